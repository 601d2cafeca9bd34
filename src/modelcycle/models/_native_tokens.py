"""Streamed training's word counting, compiled (Numba): :func:`count_words` finds the tokens
of :data:`~modelcycle.features.TOKEN_PATTERN` in one pass over each text's UTF-8 bytes and numbers
them in a hash table as it goes, without making a string of every token (the first pass), and
:func:`encode_words` maps them to a vocabulary (the n-gram families' second pass).

Polars' regex finds the same tokens but makes a string of each (IMDB: 17 us a review) and counting
them hashes those strings again (10 us): two thirds of the first pass's CPU. This scan takes 8 us
a review. It is written by hand because no library both tokenises and counts in one pass; the
characters of a word are polars' own (:func:`word_characters`), and the tests check it token for
token against :func:`~modelcycle.features.tokenize`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import polars as pl
import pyarrow as pa

from modelcycle.features import WORD_CHARACTER, Vocabulary, prepared_text

_UNICODE = 0x110000
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
_APOSTROPHE, _EXCLAMATION, _QUESTION = ord("'"), ord("!"), ord("?")


def compiled(function: Callable[..., Any]) -> Any:
    """``function`` compiled by Numba, releasing the GIL, its machine code cached beside the
    module or in the user's cache folder; where neither can be written (a read-only install and
    home), compiled again by each process instead (a few seconds)."""
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # Numba found no cache folder it can write
        return numba.njit(nogil=True)(function)


@dataclass(frozen=True)
class ChunkWords:
    """Texts' distinct words and their document frequencies (``tok``, ``df``), each token's row
    among them (text after text) and each text's number of tokens."""

    words: pl.DataFrame
    codes: np.ndarray
    lengths: np.ndarray


def count_words(texts: Sequence[str]) -> ChunkWords:
    """The tokens of ``texts``, as :func:`~modelcycle.features.tokenize` finds them, counted."""
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)})
    strings = frame.select(prepared_text(pl.col("text"))).to_series().rechunk()
    array = strings.to_arrow().cast(pa.large_string())
    _, offset_buffer, data = array.buffers()
    offsets = np.frombuffer(offset_buffer, np.int64)[array.offset : array.offset + len(array) + 1]
    utf8 = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    table = 1 << 16  # hash slots; a table half full is remade twice as large
    tokens = (int(offsets[-1]) - int(offsets[0])) // 4 + 16  # IMDB: a token every 5.5 bytes
    while True:
        found = _Found.empty(len(texts), table, tokens)
        n_tokens, n_words = _scan(offsets, utf8, word_characters(), *found.arrays())
        if n_tokens >= 0:
            return found.chunk(utf8, n_tokens, n_words)
        table, tokens = table * 2, tokens * 2


def encode_words(texts: Sequence[str], vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """``(doc, id)`` of every token of ``texts`` (-1: not in ``vocabulary``), as
    :meth:`Vocabulary.encode <modelcycle.features.Vocabulary.encode>` gives them for
    :func:`~modelcycle.features.tokenize`'s tokens; each distinct word looked up once."""
    found = count_words(texts)
    words = found.words.select(doc=pl.int_range(pl.len(), dtype=pl.Int64), tok="tok")
    word_ids = vocabulary.encode(words)[1]
    return np.repeat(np.arange(len(texts), dtype=np.int64), found.lengths), word_ids[found.codes]


@functools.cache
def word_characters() -> np.ndarray:
    """Whether each Unicode code point is a :data:`~modelcycle.features.WORD_CHARACTER`, as
    polars' regex engine sees it (its Unicode version, not Python's)."""
    points = np.arange(_UNICODE, dtype=np.uint32)
    points = points[(points < 0xD800) | (points > 0xDFFF)]  # surrogates are no characters
    utf8 = points.tobytes().decode("utf-32-le").encode()  # every character, one after another
    widths = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
    offsets = np.concatenate([[0], np.cumsum(widths, dtype=np.int64)])
    chars = pa.LargeStringArray.from_buffers(len(points), pa.py_buffer(offsets), pa.py_buffer(utf8))
    is_word = np.zeros(_UNICODE, dtype=np.bool_)
    is_word[points] = pl.Series(chars).str.contains(f"^{WORD_CHARACTER}$").to_numpy()
    return is_word


@dataclass(frozen=True)
class _Found:
    """The buffers :func:`_scan` fills: a hash table of ``slots`` and, per distinct word, where
    it first occurs, its hash, its document frequency and the last text that held it; per token
    its word; per text its number of tokens."""

    slots: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    hashes: np.ndarray
    df: np.ndarray
    last_text: np.ndarray
    codes: np.ndarray
    lengths: np.ndarray

    @classmethod
    def empty(cls, n_texts: int, table: int, tokens: int) -> _Found:
        words = table // 2
        return cls(
            slots=np.full(table, -1, np.int64),
            starts=np.empty(words, np.int64),
            stops=np.empty(words, np.int64),
            hashes=np.empty(words, np.uint64),
            df=np.empty(words, np.int64),
            last_text=np.empty(words, np.int64),
            codes=np.empty(tokens, np.int32),
            lengths=np.zeros(n_texts, np.int64),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.slots, self.starts, self.stops, self.hashes, self.df, self.last_text,
                self.codes, self.lengths)  # fmt: skip

    def chunk(self, utf8: np.ndarray, n_tokens: int, n_words: int) -> ChunkWords:
        """The words found, as strings once each."""
        offsets, characters = _gather(utf8, self.starts[:n_words], self.stops[:n_words])
        words = pa.LargeStringArray.from_buffers(
            n_words, pa.py_buffer(offsets), pa.py_buffer(characters)
        )
        frame = pl.DataFrame(
            {"tok": pl.Series(words, dtype=pl.String), "df": self.df[:n_words]},
            schema={"tok": pl.String, "df": pl.Int64},
        )
        return ChunkWords(frame, self.codes[:n_tokens], self.lengths)


@compiled
def _character(utf8: np.ndarray, at: int, is_word: np.ndarray) -> tuple[bool, int]:
    """Whether the character at byte ``at`` is a word character, and its width in bytes."""
    byte = utf8[at]
    if byte < 0x80:
        return is_word[byte], 1
    width = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
    point = byte & (0x7F >> width)
    for k in range(1, width):
        point = (point << 6) | (utf8[at + k] & 0x3F)
    return is_word[point], width


@compiled
def _scan(
    offsets: np.ndarray,
    utf8: np.ndarray,
    is_word: np.ndarray,
    slots: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    hashes: np.ndarray,
    df: np.ndarray,
    last_text: np.ndarray,
    codes: np.ndarray,
    lengths: np.ndarray,
) -> tuple[int, int]:
    """Fill the buffers (see :class:`_Found`) with the tokens of the texts at ``offsets``;
    ``(tokens, distinct words)``, or ``(-1, -1)`` when the buffers are too small."""
    mask = np.uint64(len(slots) - 1)
    n_words = n_tokens = 0
    for text in range(len(offsets) - 1):
        at, stop = offsets[text], offsets[text + 1]
        while at < stop:  # TOKEN_PATTERN's leftmost-first match, a token [start, end) at a time
            in_word, width = _character(utf8, at, is_word)
            start, byte = at, utf8[at]
            at += width
            if in_word:
                while True:
                    while at < stop:
                        in_word, width = _character(utf8, at, is_word)
                        if not in_word:
                            break
                        at += width
                    inner = at + 1 < stop and utf8[at] == _APOSTROPHE  # an apostrophe, then
                    if not (inner and _character(utf8, at + 1, is_word)[0]):  # a word goes on
                        break
                    at += 1
            elif byte != _EXCLAMATION and byte != _QUESTION:
                continue
            end = at
            hashed = _FNV_OFFSET
            for k in range(start, end):
                hashed = (hashed ^ np.uint64(utf8[k])) * _FNV_PRIME
            slot = hashed & mask
            while True:  # open addressing, probing the next slot
                word = slots[slot]
                if word < 0:
                    if 2 * (n_words + 1) > len(slots):
                        return -1, -1
                    word, n_words = n_words, n_words + 1
                    slots[slot], hashes[word] = word, hashed
                    starts[word], stops[word], df[word], last_text[word] = start, end, 0, -1
                    break
                if hashes[word] == hashed and _same(utf8, starts[word], stops[word], start, end):
                    break
                slot = (slot + np.uint64(1)) & mask
            if last_text[word] != text:
                last_text[word], df[word] = text, df[word] + 1
            if n_tokens == len(codes):
                return -1, -1
            codes[n_tokens], n_tokens = word, n_tokens + 1
            lengths[text] += 1
    return n_tokens, n_words


@compiled
def _same(utf8: np.ndarray, start: int, stop: int, other: int, other_stop: int) -> bool:
    """Whether the bytes ``start:stop`` and ``other:other_stop`` of ``utf8`` are the same."""
    if stop - start != other_stop - other:
        return False
    for k in range(stop - start):  # noqa: SIM110 (Numba compiles a loop, not a generator)
        if utf8[start + k] != utf8[other + k]:
            return False
    return True


@compiled
def _gather(
    utf8: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The byte ranges ``starts[i]:stops[i]`` of ``utf8`` one after another, and their offsets."""
    offsets = np.zeros(len(starts) + 1, np.int64)
    offsets[1:] = np.cumsum(stops - starts)
    out = np.empty(offsets[-1], np.uint8)
    for k in range(len(starts)):
        out[offsets[k] : offsets[k + 1]] = utf8[starts[k] : stops[k]]
    return offsets, out
