"""The streamed first pass's compiled word counting finds the tokens polars' regex finds, token
for token, and counts them as :func:`document_frequencies` does."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcycle.features import Vocabulary, document_frequencies, tokenize
from modelcycle.models._native_tokens import compiled, count_words, encode_words

EDGES = [
    "",
    "   \t\n",
    "Don't STOP!!",
    "'quoted' words' and dogs'",
    "rock'n'roll a''b it's' x'y'z '''",
    "!?!? ?",
    "<br />tags<b>bold</b> <a href='x'>link</a>",
    "naïve café, résumé",
    "e\u0301tude \u0301lone",  # a combining mark, after a letter and alone
    "日本語のテキスト、한국어 텍스트",
    "emoji 😀 ok 😀😀 x😀y",
    "under_score 42 3.14 ٣٤ ½",
    "İstanbul ǅemal ΣΊΣΥΦΟΣ",  # lower-casing changes their lengths
    "unassigned \u0378 and private \ue000 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "ends with é",
    "é",
    "a'é é'a é'",
]


def _assert_counted_like_tokenize(texts: list[str]) -> None:
    found = count_words(texts)
    tokens = tokenize(texts)
    words = np.asarray(found.words.get_column("tok").to_list(), dtype=object)
    assert words[found.codes].tolist() == tokens.get_column("tok").to_list()
    per_text = np.bincount(tokens.get_column("doc").to_numpy(), minlength=len(texts))
    assert found.lengths.tolist() == per_text.tolist()
    assert found.words.get_column("tok").is_unique().all()
    assert found.words.sort("tok").equals(document_frequencies(tokens).sort("tok"))


def test_edge_cases_give_the_regex_tokens() -> None:
    _assert_counted_like_tokenize(EDGES)


@pytest.mark.parametrize("texts", [[], [""], ["", ""], ["!"]])
def test_no_or_tiny_texts(texts: list[str]) -> None:
    _assert_counted_like_tokenize(texts)


@given(st.lists(st.text(max_size=40), max_size=20))
@settings(max_examples=300, deadline=None)
def test_any_unicode_text_gives_the_regex_tokens(texts: list[str]) -> None:
    _assert_counted_like_tokenize(texts)


def test_the_buffers_grow_for_many_words_and_dense_tokens() -> None:
    # more distinct words than the first hash table holds (32,768), and more tokens than one
    # every four bytes
    _assert_counted_like_tokenize([f"w{i} v{i}" for i in range(20_000)] + ["!" * 5_000, "a"])


def test_texts_are_encoded_as_the_vocabulary_encodes_their_tokens() -> None:
    texts = [*EDGES, "words the vocabulary never saw", "Don't stop"]
    vocabulary = Vocabulary.build(tokenize(EDGES[:6]), min_df=1)  # some words left out
    doc, ids = encode_words(texts, vocabulary)
    expected_doc, expected_ids = vocabulary.encode(tokenize(texts))
    assert (ids == -1).any()
    assert doc.tolist() == expected_doc.tolist()
    assert ids.tolist() == expected_ids.tolist()


def test_without_a_writable_cache_folder_the_scanner_still_compiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every cache folder Numba tries is read-only (a read-only install and home): it refuses
    def read_only(locator: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(numba.core.caching._CacheLocator, "ensure_cache_path", read_only)
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(_plus_one)
    assert compiled(_plus_one)(41) == 42


def _plus_one(number: int) -> int:
    return number + 1
