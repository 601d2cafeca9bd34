import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from modelcycle.features import (
    TAG_PATTERN,
    TOKEN_PATTERN,
    HashedBagFeaturizer,
    NgramFeaturizer,
    Vocabulary,
    ngram_keys,
    tokenize,
)

TEXTS = [
    "A great film. I loved it!",
    "A dull film<br />I hated it",
    "Great acting, great story; don't miss it",
    "dull, dull, DULL",
    "",
]


def sklearn_preprocessor(text: str) -> str:
    return re.sub(TAG_PATTERN, " ", text.lower())


def as_dense_by_term(matrix: sp.csr_matrix, terms: list[str]) -> dict[str, np.ndarray]:
    dense = matrix.toarray()
    return {term: dense[:, j] for j, term in enumerate(terms)}


def test_tokenize_lowercases_strips_tags_and_keeps_apostrophes_and_marks() -> None:
    tokens = tokenize(["Don't <b>MISS</b> it!!", "", "ok?"])
    assert tokens["tok"].to_list() == ["don't", "miss", "it", "!", "!", "ok", "?"]
    assert tokens["doc"].to_list() == [0, 0, 0, 0, 0, 2, 2]


def test_vocabulary_orders_by_document_frequency() -> None:
    vocabulary = Vocabulary.build(tokenize(["b a", "a c", "a b"]), min_df=2)
    assert vocabulary.words == ("a", "b")
    doc, ids = vocabulary.encode(tokenize(["c b", "a"]))
    assert doc.tolist() == [0, 0, 1]
    assert ids.tolist() == [-1, 1, 0]


def test_ngram_keys_respect_text_boundaries_and_unknown_words() -> None:
    doc = np.array([0, 0, 0, 1, 1])
    ids = np.array([3, 4, -1, 4, 5])
    docs, keys = ngram_keys(doc, ids, (1, 2))
    unigrams = keys < np.uint64(1 << 61)
    assert keys[unigrams].tolist() == [3, 4, 4, 5]
    assert docs[~unigrams].tolist() == [0, 1]  # (3,4) and (4,5); not (4,-1) nor across texts
    assert len(set(keys[~unigrams].tolist())) == 2
    _, again = ngram_keys(np.array([7, 7]), np.array([3, 4]), (2, 2))
    assert again.tolist() == [keys[~unigrams][0]]  # the same bigram, the same key


@pytest.mark.parametrize("min_df", [1, 2])
def test_tfidf_equals_scikit_learn_with_the_same_tokens(min_df: int) -> None:
    featurizer, matrix = NgramFeaturizer(ngram_range=(1, 2), min_df=min_df).fit_transform(TEXTS)
    reference = TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        preprocessor=sklearn_preprocessor,
        ngram_range=(1, 2),
        min_df=min_df,
        sublinear_tf=True,
    )
    expected = reference.fit_transform(TEXTS)
    assert matrix.shape == expected.shape
    # Columns are ordered differently; compare each row's sorted weights, and one known column.
    for row in range(len(TEXTS)):
        np.testing.assert_allclose(np.sort(matrix[row].data), np.sort(expected[row].data))
    np.testing.assert_allclose(
        featurizer.transform(TEXTS).toarray(), matrix.toarray(), rtol=0, atol=0
    )


def test_binary_and_count_weightings_match_count_vectorizer() -> None:
    counts = CountVectorizer(token_pattern=TOKEN_PATTERN, preprocessor=sklearn_preprocessor)
    expected = counts.fit_transform(TEXTS)
    _, matrix = NgramFeaturizer(ngram_range=(1, 1), weighting="count").fit_transform(TEXTS)
    assert sorted(matrix.sum(axis=0).A1.tolist()) == sorted(expected.sum(axis=0).A1.tolist())
    _, binary = NgramFeaturizer(ngram_range=(1, 1), weighting="binary").fit_transform(TEXTS)
    assert set(binary.data.tolist()) == {1.0}
    assert binary[3].nnz == 1  # "dull, dull, DULL" is one word


def test_featurizer_state_round_trip() -> None:
    featurizer, matrix = NgramFeaturizer(ngram_range=(1, 3), min_df=1).fit_transform(TEXTS)
    settings, words, tensors = featurizer.to_state()
    again = NgramFeaturizer.from_state(settings, words, tensors)
    assert (again.transform(TEXTS) != matrix).nnz == 0
    with pytest.raises(ValueError, match="trained with tokenisation"):
        NgramFeaturizer.from_state({**settings, "token_pattern": r"\S+"}, words, tensors)


def test_hashed_bag_ids_and_offsets() -> None:
    featurizer = HashedBagFeaturizer(ngrams=2, buckets=10, min_count=1).fit(["a b", "b c"])
    assert featurizer.size == 3 + 10
    ids, offsets = featurizer.encode(["a b", "zzz", "c"])
    assert offsets.tolist() == [0, 3, 3]  # "a b": a, b and one bigram; "zzz": nothing
    words = featurizer.vocabulary.words
    assert ids[:2].tolist() == [words.index("a"), words.index("b")]
    assert 3 <= ids[2] < 13  # the bigram lands in a bucket after the words
    assert ids[3:].tolist() == [words.index("c")]
