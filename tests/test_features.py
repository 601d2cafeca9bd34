import unicodedata

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from modelcycle.exceptions import DataError
from modelcycle.features import (
    END_TOKEN,
    HashedBagFeaturizer,
    NgramFeaturizer,
    Vocabulary,
    document_frequencies,
    ngram_keys,
    tokenize,
    tokens_of,
)
from modelcycle.features._tokens import SMALL_BATCH

TEXTS = [
    "A great film. I loved it!",
    "A dull film<br />I hated it",
    "Great acting, great story; don't miss it",
    "dull, dull, DULL",
    "",
]


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


def test_ngram_keys_come_in_token_order() -> None:
    doc = np.array([0, 0, 0, 2, 2])
    ids = np.array([1, 2, 3, 4, 5])
    docs, keys = ngram_keys(doc, ids, (1, 3))
    assert docs.tolist() == [0] * 6 + [2] * 3  # 3 + 2 + 1 n-grams, then 2 + 1
    order = (keys >> np.uint64(61)).tolist()
    assert order == [0, 2, 3, 0, 2, 0, 0, 2, 0]  # from each token: its word (0), then longer
    assert keys[[0, 3, 5, 6, 8]].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("min_df", [1, 2])
def test_tfidf_equals_scikit_learn_with_the_same_tokens(min_df: int) -> None:
    featurizer, matrix = NgramFeaturizer(ngram_range=(1, 2), min_df=min_df).fit_transform(TEXTS)
    reference = TfidfVectorizer(
        tokenizer=tokens_of,
        token_pattern=None,
        lowercase=False,
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
    counts = CountVectorizer(tokenizer=tokens_of, token_pattern=None, lowercase=False)
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
    words = featurizer.vocabulary.words
    assert words[0] == END_TOKEN
    assert featurizer.size == 4 + 10
    ids, offsets = featurizer.encode(["a b", "zzz", "c"])
    # "a b </s>": three words and two bigrams; "zzz </s>": the end token; "c </s>": 2 + 1;
    # in token order, each word followed by the bigram it starts
    assert offsets.tolist() == [0, 5, 6]
    assert ids[[0, 2, 4]].tolist() == [words.index("a"), words.index("b"), 0]
    assert all(4 <= i < 14 for i in ids[[1, 3]])  # the bigrams land in buckets after the words
    assert ids[1] != ids[7]  # "a b" and "c </s>" are different bigrams (10 buckets: no clash)
    assert ids[[5, 6, 8]].tolist() == [0, words.index("c"), 0]


def test_hashed_bag_end_token_is_a_bigrams_last_word() -> None:
    with_end = HashedBagFeaturizer(ngrams=2, buckets=1000).fit(["good film", "bad film"])
    ids, offsets = with_end.encode(["good film", "bad film"])
    bags = np.split(ids, offsets[1:])
    # words good|bad, film, </s>; bigrams (good|bad, film) and (film, </s>), the last shared
    assert len(bags[0]) == len(bags[1]) == 5
    assert len(set(bags[0]) ^ set(bags[1])) == 4  # good, bad, (good, film), (bad, film)
    without = HashedBagFeaturizer(ngrams=2, buckets=1000, end_token=False).fit(["good film"])
    assert END_TOKEN not in without.vocabulary.words
    assert without.encode(["good film", "zzz"])[1].tolist() == [0, 3]  # "zzz": an empty bag


def test_hashed_bag_state_keeps_the_end_token_setting() -> None:
    for end_token in (True, False):
        fitted = HashedBagFeaturizer(buckets=100, end_token=end_token).fit(TEXTS)
        settings, words = fitted.to_state()
        again = HashedBagFeaturizer.from_state(settings, words)
        assert again.end_token is end_token
        for got, want in zip(again.encode(TEXTS), fitted.encode(TEXTS), strict=True):
            assert np.array_equal(got, want)
    # a model saved before the end token existed encodes as it did then
    settings.pop("end_token")
    assert HashedBagFeaturizer.from_state(settings, words).end_token is False


def test_hashed_bag_small_and_large_batches_alike() -> None:
    featurizer = HashedBagFeaturizer(buckets=1000).fit(TEXTS)
    many = TEXTS * 20  # above SMALL_BATCH: the polars path
    large_ids, large_offsets = featurizer.encode(many)
    small = [featurizer.encode([text]) for text in many]
    assert np.array_equal(large_offsets[1:], np.cumsum([len(ids) for ids, _ in small])[:-1])
    assert np.array_equal(large_ids, np.concatenate([ids for ids, _ in small]))


# Characters assigned by Unicode 14 (Python 3.11's tables): the two regex engines' Unicode tables
# are newer and may disagree only on characters assigned after that.
ASSIGNED = st.characters(blacklist_categories=("Cs",), codec="utf-8").filter(
    lambda c: unicodedata.category(c) != "Cn"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(ASSIGNED, max_size=40), min_size=1, max_size=5))
def test_small_and_large_batches_tokenise_alike(texts: list[str]) -> None:
    # Small batches are tokenised by the `regex` module, large ones by polars: same tokens.
    frame = tokenize(texts)
    by_polars = [frame.filter(frame["doc"] == i)["tok"].to_list() for i in range(len(texts))]
    assert [tokens_of(text) for text in texts] == by_polars


def test_small_and_large_batches_encode_alike() -> None:
    featurizer, _ = NgramFeaturizer(min_df=1).fit_transform(TEXTS)
    many = TEXTS * 20  # above SMALL_BATCH: the polars path
    assert len(many) > SMALL_BATCH
    large = featurizer.transform(many)
    small = featurizer.transform(TEXTS)
    np.testing.assert_array_equal(large[: len(TEXTS)].toarray(), small.toarray())


def test_a_fit_that_finds_no_feature_is_refused() -> None:
    # scikit-learn's "empty vocabulary" ValueError, as our DataError (train adds file and column)
    with pytest.raises(
        DataError,
        match=r"^no word n-gram \(1 to 2 words\) occurs in at least min_df=2 of the 3 texts: the "
        r"texts may be empty, only punctuation, or too few or too different for min_df=2; check "
        r"the text column, or lower the min_df parameter \(-p min_df=1\)$",
    ):
        NgramFeaturizer(min_df=2).fit_transform(["alpha", "beta", "gamma"])
    with pytest.raises(
        DataError,
        match=r"^no word n-gram \(2 to 2 words\) occurs in at least min_df=1 of the 2 texts: the "
        r"texts are empty or only punctuation; check the text column$",
    ):
        NgramFeaturizer(ngram_range=(2, 2)).fit_transform(["alpha", "beta"])
    with pytest.raises(
        DataError,
        match=r"^no word occurs in at least min_count=1 of the 3 texts: the texts are empty or "
        r"only punctuation; check the text column$",
    ):
        HashedBagFeaturizer(buckets=10).fit_encode(["...", "", "--"])
    with pytest.raises(DataError, match=r"^no word occurs in at least min_count=2 of the 2 texts"):
        HashedBagFeaturizer(buckets=10, min_count=2).fit(["alpha", "beta"])


class _Counted:
    """Words counted over texts, as a stream's first pass counts them."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = len(texts)
        self._frequencies = document_frequencies(tokenize(texts))

    def frequencies(self) -> pl.DataFrame:
        return self._frequencies


@pytest.mark.parametrize("merge_rows", [1, 1 << 22])
def test_counting_chunk_by_chunk_fits_what_fit_transform_fits(merge_rows: int) -> None:
    texts = TEXTS * 3 + ["a great story", "hated the story, loved the acting"]
    featurizer = NgramFeaturizer(ngram_range=(1, 3), min_df=2)
    whole, _ = featurizer.fit_transform(texts)
    vocabulary = featurizer.counted_vocabulary(_Counted(texts))
    chunks = [texts[first : first + 4] for first in range(0, len(texts), 4)]
    counts = (featurizer.ngram_frequencies(*vocabulary.encode(tokenize(c))) for c in chunks)
    counted = featurizer.fit_counted(vocabulary, counts, len(texts), merge_rows=merge_rows)
    assert counted.vocabulary == whole.vocabulary
    np.testing.assert_array_equal(counted.keys, whole.keys)
    np.testing.assert_array_equal(counted.idf, whole.idf)
