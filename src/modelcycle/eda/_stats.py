"""Counting helpers the EDA's figures share: rows per label and pandas-style summary statistics."""

from __future__ import annotations

import numpy as np
import polars as pl

from modelcycle.data import Dataset

NO_LABEL = "(no label)"
"""Where rows without a label are counted in the per-label figures."""


def counts_by_label(dataset: Dataset) -> dict[str, int]:
    """Rows per label, largest first (ties by name); rows without a label are not counted."""
    if dataset.label is None:
        return {}
    counts = (
        dataset.frame.get_column(dataset.label)
        .drop_nulls()
        .value_counts(name="n")
        .sort(["n", dataset.label], descending=[True, False])
    )
    return {str(name): int(n) for name, n in counts.iter_rows()}


def label_counts(rows: pl.DataFrame, labels: list[str]) -> dict[str, int]:
    """Rows per label (not counting rows without one), largest first."""
    counts = dict(zip(labels, bincount(rows["lab"], len(labels)), strict=True))
    counts.pop(NO_LABEL, None)
    return counts


def bincount(codes: pl.Series, n: int) -> list[int]:
    return np.bincount(codes.to_numpy(), minlength=n).tolist()


def describe(values: pl.Series) -> dict[str, float | int | None]:
    """count, mean, std, min, p25, p50, p75, max of the non-missing values (as pandas describes:
    sample standard deviation, linear interpolation between ranks)."""
    s = values.drop_nulls().cast(pl.Float64)
    if s.len() == 0:
        return {"count": 0, **dict.fromkeys(("mean", "std", "min", "p25", "p50", "p75", "max"))}
    stats = pl.DataFrame({"v": s}).select(
        count=pl.col("v").count(),
        mean=pl.col("v").mean(),
        std=pl.col("v").std(),
        min=pl.col("v").min(),
        p25=pl.col("v").quantile(0.25, interpolation="linear"),
        p50=pl.col("v").quantile(0.5, interpolation="linear"),
        p75=pl.col("v").quantile(0.75, interpolation="linear"),
        max=pl.col("v").max(),
    )
    result: dict[str, float | int | None] = {}
    for name, value in stats.row(0, named=True).items():
        if name == "count":
            result[name] = int(value)
        elif value is None or not np.isfinite(value):
            result[name] = None
        else:
            result[name] = round(float(value), 4)
    return result
