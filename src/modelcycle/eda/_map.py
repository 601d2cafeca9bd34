"""A map of the texts: TF-IDF of their words reduced to two dimensions by a truncated SVD.

This is what scikit-learn's ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` on the models'
tokens less the stop words, followed by ``TruncatedSVD(2)`` (a randomized SVD), computes, written
with polars and numpy because importing scikit-learn alone takes over a second, a quarter of the
time the whole report of a 25,000-review file is allowed. It runs on a sample of a few thousand
texts, so a dense matrix is small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from modelcycle.eda._stopwords import STOP_WORDS
from modelcycle.features import token_lists

MAX_CHARS = 1000
"""Characters of each text that place it on the map: enough for its topic, and it bounds the
time long texts take."""


def document_map(texts: Sequence[str], seed: int, max_words: int = 2000) -> np.ndarray | None:
    """``(len(texts), 2)`` coordinates, or None when fewer than 3 words occur in 2+ texts."""
    counts = (
        pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
        .lazy()
        .with_row_index("doc")
        .select("doc", word=token_lists(pl.col("text").str.slice(0, MAX_CHARS)))
        .explode("word")
        .filter(pl.col("word").is_not_null() & ~pl.col("word").is_in(sorted(STOP_WORDS)))
        .group_by("doc", "word")
        .len("n")
        .collect()
    )
    vocabulary = (
        counts.group_by("word")
        .len("df")
        .filter(pl.col("df") >= 2)
        .sort(["df", "word"], descending=[True, False])
        .head(max_words)
        .with_row_index("column")
    )
    if vocabulary.height < 3:
        return None
    cells = counts.join(vocabulary, on="word")
    n_docs = len(texts)
    idf = np.log((1 + n_docs) / (1 + vocabulary["df"].to_numpy())) + 1.0
    matrix = np.zeros((n_docs, vocabulary.height), dtype=np.float32)
    columns = cells["column"].to_numpy()
    matrix[cells["doc"].to_numpy(), columns] = (1.0 + np.log(cells["n"].to_numpy())) * idf[columns]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms > 0, norms, 1.0)
    return _truncated_svd(matrix, 2, np.random.default_rng(seed))


def _truncated_svd(
    matrix: np.ndarray, k: int, rng: np.random.Generator, oversample: int = 10, power: int = 4
) -> np.ndarray:
    """The first ``k`` components of ``matrix`` (Halko, Martinsson & Tropp 2011), signs fixed so
    that each component's largest loading is positive, as scikit-learn's ``svd_flip`` does."""
    probe = matrix @ rng.standard_normal((matrix.shape[1], k + oversample), dtype=np.float32)
    for _ in range(power):
        probe, _ = np.linalg.qr(probe)
        probe = matrix @ (matrix.T @ probe)
    basis, _ = np.linalg.qr(probe)
    small_u, values, vt = np.linalg.svd(basis.T @ matrix, full_matrices=False)
    u = (basis @ small_u)[:, :k]
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    result: np.ndarray = u * values[:k] * signs
    return result
