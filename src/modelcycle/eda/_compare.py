"""How a second dataset differs from the profiled one: overlap, label shift, length shift and
unseen words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import Dataset
from modelcycle.eda._counts import word_count
from modelcycle.eda._problems import examples
from modelcycle.eda._stats import counts_by_label, describe, label_counts
from modelcycle.features import token_lists
from modelcycle.text import normalized


def compare_with(
    dataset: Dataset,
    other: Dataset,
    rows: pl.DataFrame,
    labels: list[str],
    vocabulary: np.ndarray,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """How ``other`` differs from ``dataset``: overlap, label shift, length shift, unseen words."""
    from scipy.stats import ks_2samp

    column = pl.col(other.text)
    theirs = other.frame.select(
        exact=column.hash(),
        norm=normalized(column).hash(),
        chars=column.str.len_chars(),
        tokens=token_lists(column),
    ).with_columns(words=word_count(pl.col("tokens")))
    exact_in = theirs["exact"].is_in(rows["exact"].unique())
    norm_in = theirs["norm"].is_in(rows["norm"].unique())
    overlap_rows = pl.Series(range(other.frame.height)).filter(exact_in)
    tokens = theirs["tokens"].explode().drop_nulls()
    unseen = ~tokens.is_in(pl.Series(vocabulary, dtype=pl.String))
    other_labels = counts_by_label(other)
    ours = label_counts(rows, labels) if dataset.label else {}
    shares = _shares(ours, other_labels)
    length_shift = {}
    for unit in ("chars", "words"):
        mine, yours = rows[unit].drop_nulls().to_numpy(), theirs[unit].drop_nulls().to_numpy()
        test = ks_2samp(mine, yours) if len(mine) and len(yours) else None
        length_shift[unit] = {
            "data": describe(rows[unit]),
            "other": describe(theirs[unit]),
            "ks_statistic": round(float(test.statistic), 6) if test else None,
            "ks_pvalue": float(test.pvalue) if test else None,
        }
    n_other = other.frame.height
    summary = {
        "source": other.source,
        "rows": n_other,
        "labels": other_labels,
        "overlap": {
            "exact_rows": int(exact_in.sum()),
            "exact_texts": int(theirs["exact"].filter(exact_in).n_unique()),
            "normalized_rows": int(norm_in.sum()),
            "normalized_texts": int(theirs["norm"].filter(norm_in).n_unique()),
            "exact_share": round(int(exact_in.sum()) / n_other, 6),
            "normalized_share": round(int(norm_in.sum()) / n_other, 6),
            "examples": examples(other.frame, other.text, overlap_rows),
        },
        "label_shift": {
            "shares": shares,
            "total_variation": round(sum(abs(b - a) for a, b in shares.values()) / 2, 6),
            "only_in_data": sorted(set(ours) - set(other_labels)),
            "only_in_other": sorted(set(other_labels) - set(ours)),
        },
        "length_shift": length_shift,
        "vocabulary": {
            "tokens": tokens.len(),
            "unseen_tokens": int(unseen.sum()),
            "unseen_share": round(int(unseen.sum()) / tokens.len(), 6) if tokens.len() else None,
            "unseen_words": int(tokens.filter(unseen).n_unique()),
        },
    }
    plot = {
        "name": Path(other.source).name,
        "chars": theirs["chars"].fill_null(0).to_numpy(),
        "words": theirs["words"].to_numpy(),
        "shares": shares,
    }
    return summary, plot


def _shares(ours: dict[str, int], theirs: dict[str, int]) -> dict[str, list[float]]:
    total_a, total_b = sum(ours.values()) or 1, sum(theirs.values()) or 1
    names = list(ours) + [k for k in theirs if k not in ours]
    return {
        k: [round(ours.get(k, 0) / total_a, 6), round(theirs.get(k, 0) / total_b, 6)] for k in names
    }
