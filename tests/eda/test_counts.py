"""N-gram counts and log-odds against independent computations (scikit-learn, plain Python), on
the models' tokens."""

from __future__ import annotations

import collections
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from modelcycle.data import Dataset
from modelcycle.eda import _counts, profile
from modelcycle.eda._stopwords import CONTRACTIONS, FRAGMENTS, SKLEARN_ENGLISH, STOP_WORDS
from modelcycle.features import NgramFeaturizer, tokens_of
from tests.eda.conftest import CORPUS


def sklearn_counts(texts: list[str], n: int) -> dict[str, int]:
    """Occurrences of every n-gram over ``texts``, by scikit-learn's CountVectorizer on the
    models' tokens."""
    vectorizer = CountVectorizer(
        ngram_range=(n, n), tokenizer=tokens_of, token_pattern=None, lowercase=False
    )
    matrix = vectorizer.fit_transform(texts)
    totals = np.asarray(matrix.sum(axis=0)).ravel()
    return dict(zip(vectorizer.get_feature_names_out().tolist(), totals.tolist(), strict=True))


def ranked(counts: dict[str, int]) -> list[list[object]]:
    return [[g, c] for g, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ngram_counts_match_countvectorizer(corpus: Dataset, n: int) -> None:
    data = profile(corpus, top=1000).data
    assert data["ngrams"][str(n)] == ranked(sklearn_counts(corpus.texts, n))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_per_label_counts_match_countvectorizer(corpus: Dataset, n: int) -> None:
    data = profile(corpus, top=1000).data
    for label in ("pos", "neg", "meh"):
        texts = [t for t, lab in CORPUS if lab == label]
        assert data["ngrams_by_label"][label][str(n)] == ranked(sklearn_counts(texts, n))


def test_top_k_is_ranked_by_count_then_alphabet(corpus: Dataset) -> None:
    data = profile(corpus, top=3).data
    # counted by hand: 'the' 14, 'was' 6, then 'cast' and 'plot' 5 each, then four words at 4
    assert data["ngrams"]["1"] == [["the", 14], ["was", 6], ["cast", 5]]
    assert data["top_words"] == data["ngrams"]["1"]
    assert data["top_words_without_stop_words"] == [["cast", 5], ["plot", 5], ["awful", 4]]


def test_grams_never_cross_texts() -> None:
    data = profile(Dataset.from_records(["alpha beta", "gamma delta"], ["a", "b"])).data
    assert [g for g, _ in data["ngrams"]["2"]] == ["alpha beta", "gamma delta"]
    assert data["ngrams"]["3"] == []


def test_html_tags_are_not_counted_as_words() -> None:
    data = profile(Dataset.from_records(["good<br /><br />fun &amp; games"], ["a"])).data
    # as the models see it: tags removed, an entity's name kept (cleaning decodes entities)
    assert sorted(g for g, _ in data["ngrams"]["1"]) == ["amp", "fun", "games", "good"]


def test_the_words_are_the_tokens_the_models_see() -> None:
    text = "It isn't GREAT, it isn't<br/>awful: it's just 2 hours & a half!"
    data = profile(Dataset.from_records([text], ["a"]), top=100).data
    assert data["top_words"] == ranked(dict(collections.Counter(tokens_of(text))))
    assert data["top_words"][:2] == [["isn't", 2], ["it", 2]]  # not "isn" and "t"
    fitted, _ = NgramFeaturizer(ngram_range=(1, 1)).fit_transform([text])
    assert fitted.vocabulary is not None
    assert sorted(fitted.vocabulary.words) == sorted(w for w, _ in data["top_words"])
    # stop words, contractions and ! are left out of the content words
    content = [w for w, _ in data["top_words_without_stop_words"]]
    assert content == ["2", "awful", "great", "half", "hours", "just"]


def test_vocabulary_hapax_and_growth(corpus: Dataset) -> None:
    data = profile(corpus).data
    unigrams = sklearn_counts(corpus.texts, 1)
    vocab = data["vocabulary"]
    assert vocab["size"] == len(unigrams)
    assert vocab["tokens"] == sum(unigrams.values())
    assert vocab["hapax"] == sum(1 for c in unigrams.values() if c == 1)
    # the growth curve by a plain pass over the tokens, in file order
    stream = [token for text in corpus.texts for token in tokens_of(text)]
    for read, distinct in vocab["growth"]:
        assert distinct == len(set(stream[:read]))
    assert vocab["growth"][-1] == [len(stream), len(unigrams)]


def test_batches_give_the_same_report(corpus: Dataset) -> None:
    whole = profile(corpus, top=1000).data
    batched = profile(corpus, top=1000, batch_bytes=60).data
    for key in ("ngrams", "ngrams_by_label", "distinctive", "vocabulary", "length", "duplicates"):
        assert batched[key] == whole[key], key


def test_unpackable_vocabularies_take_the_exact_slow_path() -> None:
    stream = pl.DataFrame(
        {
            "doc": pl.Series([0, 0, 0, 0, 1, 1, 1], dtype=pl.UInt32),
            "lab": pl.Series([0, 0, 0, 0, 1, 1, 1], dtype=pl.UInt32),
            "id": pl.Series([5, 6, 7, 5, 5, 6, 7], dtype=pl.UInt32),
        }
    )
    for order in (1, 2, 3):
        packed = _counts._count(stream, order, 2, bits=3)
        grouped = _counts._count(stream, order, 2, bits=40)  # 3 x 40 bits do not fit in 64
        assert np.array_equal(packed.grams, grouped.grams)
        assert np.array_equal(packed.counts, grouped.counts)
        halves = [
            _counts._count(stream.slice(0, 4), order, 2, 3),
            _counts._count(stream.slice(4), order, 2, 3),
        ]
        for bits in (3, 40):  # packed keys and, where they do not fit, the id columns
            merged = _counts._merge(halves, 2, bits)
            assert np.array_equal(merged.grams, packed.grams)
            assert np.array_equal(merged.counts, packed.counts)
    trigrams = _counts._count(stream, 3, 2, bits=40)
    assert dict(
        zip(map(tuple, trigrams.grams.tolist()), trigrams.counts.tolist(), strict=True)
    ) == {
        (5, 6, 7): [1, 1],
        (6, 7, 5): [1, 0],
    }


def fightin_words(y_i: float, y_j: float, n_i: float, n_j: float, prior: float, a0: float) -> float:
    """Monroe et al. (2008), eq. 16 and 18, written out for one word."""
    delta = math.log((y_i + prior) / (n_i + a0 - y_i - prior)) - math.log(
        (y_j + prior) / (n_j + a0 - y_j - prior)
    )
    return delta / math.sqrt(1 / (y_i + prior) + 1 / (y_j + prior))


def test_log_odds_matches_the_formula_and_its_sign() -> None:
    counts = np.array([[10, 0, 1], [0, 8, 1], [5, 5, 2], [3, 1, 9]])
    z = _counts.log_odds_z(counts)
    totals = counts.sum(axis=0)
    for w in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            y_i = counts[w, j]
            y_w = counts[w].sum()
            expected = fightin_words(
                y_i, y_w - y_i, totals[j], totals.sum() - totals[j], y_w, totals.sum()
            )
            assert z[w, j] == pytest.approx(expected)
    assert z[0, 0] > 0 > z[0, 1]  # only in label 0
    assert z[1, 1] > 0 > z[1, 0]  # only in label 1
    binary = _counts.log_odds_z(counts[:, :2])
    assert np.allclose(binary[:, 0], -binary[:, 1])


def test_distinctive_ngrams_point_the_right_way(corpus: Dataset) -> None:
    data = profile(corpus).data
    top_of = {label: [g for g, _ in grams[:3]] for label, grams in data["distinctive"].items()}
    assert "loved" in top_of["pos"]
    assert any(g in top_of["neg"] for g in ("hated", "awful"))
    assert "fine" in top_of["meh"]
    assert all(z > 0 for grams in data["distinctive"].values() for _, z in grams)
    by_n = data["distinctive_by_n"]["pos"]["1"]
    loved = next(row for row in by_n if row[0] == "loved")
    assert loved[2:] == [3, 0]  # three times in 'pos', never elsewhere


def test_skipping_words_seen_once_changes_no_top_list() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.3, size=(5000, 2)) + (rng.random((5000, 1)) < 0.05) * 20
    table = _counts.GramTable(1, np.arange(5000, dtype=np.uint32).reshape(-1, 1), counts)
    fast, full = _counts.distinctive_z(table, 30), _counts.log_odds_z(counts)
    once = counts.sum(axis=1) == 1
    assert once.sum() > 1000
    assert (fast[once] == 0).all()
    assert np.array_equal(fast[~once], full[~once])
    for j in range(2):  # the 30 best scores are the same (ties may list in another order)
        assert np.sort(fast[:, j])[-30:].tolist() == np.sort(full[:, j])[-30:].tolist()


def test_the_stop_words_are_scikit_learns_and_whole_contractions() -> None:
    assert frozenset(ENGLISH_STOP_WORDS) == SKLEARN_ENGLISH
    assert SKLEARN_ENGLISH | CONTRACTIONS | FRAGMENTS | {"!", "?"} == STOP_WORDS
    # each contraction is one token of the models, each fragment what a split one leaves
    assert all(tokens_of(word) == [word] for word in CONTRACTIONS)
    assert all(tokens_of(word) == [word] for word in FRAGMENTS)
    assert tokens_of("don’t it 's do n't") == ["don", "t", "it", "s", "do", "n't"]


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(
        st.tuples(st.integers(0, 2), st.lists(st.integers(0, 6), max_size=7)),
        min_size=1,
        max_size=6,
    )
)
def test_counting_any_token_stream_matches_plain_python(docs: list[tuple[int, list[int]]]) -> None:
    rows = [(d, lab, t) for d, (lab, tokens) in enumerate(docs) for t in tokens]
    stream = pl.DataFrame(
        {name: [r[i] for r in rows] for i, name in enumerate(("doc", "lab", "id"))},
        schema=dict.fromkeys(("doc", "lab", "id"), pl.UInt32),
    )
    for order in (1, 2, 3):
        expected: dict[tuple[int, ...], list[int]] = {}
        for lab, tokens in docs:
            for i in range(len(tokens) - order + 1):
                expected.setdefault(tuple(tokens[i : i + order]), [0, 0, 0])[lab] += 1
        for bits in (3, 40):
            table = _counts._count(stream, order, 3, bits)
            found = dict(zip(map(tuple, table.grams.tolist()), table.counts.tolist(), strict=True))
            assert found == expected
