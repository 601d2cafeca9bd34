"""N-gram keys: one 64-bit integer per word n-gram, shared by the TF-IDF and hashed-bag
featurizers, computed in place with numpy over a whole corpus' token ids."""

from __future__ import annotations

import numpy as np
import polars as pl

ORDER_SHIFT = np.uint64(61)
"""An n-gram key (n >= 2) holds n in its top three bits, above a 61-bit hash."""
_HASH_MASK = np.uint64((1 << 61) - 1)
_PRIME = np.uint64(0x9E3779B97F4A7C15)


def ngram_keys(
    doc: np.ndarray, ids: np.ndarray, ngram_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(doc, key)`` for every n-gram of known words with n in ``ngram_range``, in token order
    (the n-grams that start at a token, shortest first), so sorted by ``doc`` when it is.

    A unigram's key is its word id; an n-gram's key is a 61-bit hash of its word ids with n in
    the top three bits, so keys of different orders never collide. Unknown words (id -1) break
    n-grams, as a word that never reached the vocabulary cannot be part of a kept n-gram.
    """
    keys, kept = ngram_table(doc, ids, ngram_range)
    return np.repeat(doc, kept.sum(axis=1, dtype=np.uint8)), keys[kept]


def ngram_table(
    doc: np.ndarray, ids: np.ndarray, ngram_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, kept)``, both (token, order): the key of the n-gram that starts at each token,
    and whether it exists. Every step works in place: on IMDB's 6M tokens a fresh array of the
    corpus' size costs more than the arithmetic on it (first-touch page faults)."""
    orders = [n for n in range(max(ngram_range[0], 1), ngram_range[1] + 1) if n <= len(ids)]
    keys = np.empty((len(ids), len(orders)), dtype=np.uint64)
    kept = np.zeros((len(ids), len(orders)), dtype=bool)
    known = ids >= 0
    words = ids.astype(np.int64, copy=False).view(np.uint64)  # -1 wraps, but is never kept
    one = np.uint64(1)
    for column, n in enumerate(orders):
        width = len(ids) - n + 1
        key, valid = keys[:width, column], kept[:width, column]
        valid[:] = known[:width]
        if n == 1:
            key[:] = words
            continue
        np.add(words[:width], one, out=key)
        for offset in range(1, n):
            window = slice(offset, offset + width)
            valid &= known[window]
            valid &= doc[window] == doc[:width]
            key *= _PRIME
            key += words[window]
            key += one
        key &= _HASH_MASK
        key |= np.uint64(n) << ORDER_SHIFT
    return keys, kept


def key_frame(doc: np.ndarray, keys: np.ndarray) -> pl.DataFrame:
    """``(doc, key)`` pairs as a frame, for polars joins and group-bys."""
    return pl.DataFrame({"doc": doc, "key": keys}, schema={"doc": pl.Int64, "key": pl.UInt64})
