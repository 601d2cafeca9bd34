"""fastText's compression of a table (FastText.zip, Joulin et al. 2016): pruning to the rows of
largest norm, then product quantisation (k-means per sub-space)."""

from __future__ import annotations

import numpy as np

from modelcycle.export import ProductCodes

__all__ = ["PQ_CENTROIDS", "product_quantize", "prune_rows"]

PQ_CENTROIDS = 256


def prune_rows(table: np.ndarray, keep: int, projection: np.ndarray | None = None) -> np.ndarray:
    """The ``keep`` rows of largest L2 norm (fastText's ``-cutoff``), in increasing order.

    With ``projection`` (the first layer after the bag, [width, out]) a row's norm is that of
    what it adds to that layer, ``row @ projection``: without fastText's retraining, a row the
    next layer does not read (an n-gram bucket left at its random start) is not worth keeping.
    """
    if keep >= len(table):
        return np.arange(len(table))
    norms = np.linalg.norm(table if projection is None else table @ projection, axis=1)
    return np.sort(np.argpartition(-norms, keep - 1)[:keep])


def product_quantize(table: np.ndarray, *, seed: int = 0, sub_dim: int = 2) -> ProductCodes:
    """Product quantisation of ``table``: split each row into sub-vectors of ``sub_dim`` values
    and replace each by the nearest of 256 centroids of its sub-space (k-means, fitted on at
    most 65,536 rows as fastText does)."""
    from sklearn.cluster import KMeans  # deferred: scikit-learn is slow to import

    rows, width = table.shape
    if width % sub_dim:
        sub_dim = 1
    subspaces = width // sub_dim
    rng = np.random.default_rng(seed)
    sample = rng.choice(rows, size=min(rows, 256 * PQ_CENTROIDS), replace=False)
    codes = np.zeros((rows, subspaces), dtype=np.uint8)
    books = np.zeros((subspaces, PQ_CENTROIDS, sub_dim), dtype=np.float32)
    for m in range(subspaces):
        block = table[:, m * sub_dim : (m + 1) * sub_dim].astype(np.float32)
        fit = block[sample]
        clusters = min(PQ_CENTROIDS, len(np.unique(fit, axis=0)))
        kmeans = KMeans(n_clusters=clusters, n_init=1, max_iter=25, random_state=seed).fit(fit)
        books[m, :clusters] = kmeans.cluster_centers_
        for start in range(0, rows, 1 << 18):
            codes[start : start + (1 << 18), m] = kmeans.predict(block[start : start + (1 << 18)])
    return ProductCodes(codes=codes, codebooks=books)
