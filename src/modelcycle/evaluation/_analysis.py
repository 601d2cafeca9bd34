"""Error analysis: where the model fails. Examples with their text, and accuracy by slice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import Dataset
from modelcycle.evaluation._metrics import proportion_ci
from modelcycle.exceptions import SchemaError

__all__ = ["by_column", "by_length", "check_slices", "examples"]

MAX_GROUPS = 20
"""A column with more distinct values than this is shown as its 20 largest groups plus the rest
(or, if numeric, as quantile buckets)."""


def check_slices(dataset: Dataset, columns: Sequence[str]) -> None:
    """Refuse slice columns the data does not have, listing the ones it has."""
    for column in columns:
        if column not in dataset.frame.columns:
            raise SchemaError(
                f"slice column {column!r} not found; columns are: "
                f"{', '.join(dataset.frame.columns)}",
                path=dataset.source,
            )


def examples(
    texts: Sequence[str],
    truth: np.ndarray,
    predicted: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    k: int,
) -> dict[str, list[dict[str, Any]]]:
    """The ``k`` most confident mistakes and the ``k`` least confident correct answers.

    Confidence is the (calibrated) probability of the answer given; ``row`` counts from 1 over
    the data rows, as in every modelcycle error message.
    """
    index = {label: j for j, label in enumerate(classes)}
    answer = np.array([index[label] for label in predicted.tolist()], dtype=np.int64)
    confidence = proba[np.arange(len(answer)), answer]
    wrong = np.flatnonzero(predicted != truth)
    right = np.flatnonzero(predicted == truth)
    mistakes = wrong[np.argsort(-confidence[wrong], kind="stable")[:k]]
    unsure = right[np.argsort(confidence[right], kind="stable")[:k]]

    def record(i: int) -> dict[str, Any]:
        true_column = index.get(str(truth[i]))
        return {
            "row": int(i) + 1,
            "text": texts[i],
            "label": str(truth[i]),
            "predicted": str(predicted[i]),
            "confidence": float(confidence[i]),
            "label_probability": None if true_column is None else float(proba[i, true_column]),
        }

    return {
        "most_confident_mistakes": [record(int(i)) for i in mistakes],
        "least_confident_correct": [record(int(i)) for i in unsure],
    }


def by_length(dataset: Dataset, correct: np.ndarray, buckets: int) -> list[dict[str, Any]]:
    """Accuracy by text length in words, in ``buckets`` groups of about equal size."""
    words = (
        dataset.frame.get_column(dataset.text)
        .fill_null("")
        .str.count_matches(r"\S+")
        .to_numpy()
        .astype(np.int64)
    )
    groups = []
    for low, high, members in _quantile_groups(words, buckets):
        unit = "word" if low == high == 1 else "words"
        value = f"{low:,} {unit}" if low == high else f"{low:,}–{high:,} words"
        groups.append(
            {"value": value, "min_words": int(low), "max_words": int(high)}
            | _accuracy(correct[members])
        )
    return groups


def by_column(
    dataset: Dataset, column: str, correct: np.ndarray, buckets: int
) -> list[dict[str, Any]]:
    """Accuracy by the values of ``column``: its groups (largest first, at most 20 plus "other"),
    or quantile buckets for a numeric column with many distinct values; missing values are one
    group."""
    series = dataset.frame.get_column(column)
    missing = series.is_null().to_numpy()
    groups: list[dict[str, Any]] = []
    if series.dtype.is_numeric() and series.n_unique() > MAX_GROUPS:
        present = np.flatnonzero(~missing)
        values = series.to_numpy()[present].astype(np.float64)
        for low, high, members in _quantile_groups(values, buckets):
            value = _number(low) if low == high else f"{_number(low)}–{_number(high)}"
            groups.append({"value": value} | _accuracy(correct[present[members]]))
    else:
        text = series.cast(pl.String).fill_null("").to_numpy().astype(str)
        names, inverse, counts = np.unique(text[~missing], return_inverse=True, return_counts=True)
        present = np.flatnonzero(~missing)
        order = sorted(range(len(names)), key=lambda g: (-counts[g], names[g]))
        for g in order[:MAX_GROUPS]:
            groups.append({"value": str(names[g])} | _accuracy(correct[present[inverse == g]]))
        rest = order[MAX_GROUPS:]
        if rest:
            members = present[np.isin(inverse, rest)]
            groups.append({"value": f"(other {len(rest):,} values)"} | _accuracy(correct[members]))
    if missing.any():
        groups.append({"value": "(missing)"} | _accuracy(correct[missing]))
    return groups


def _quantile_groups(values: np.ndarray, buckets: int) -> list[tuple[float, float, np.ndarray]]:
    """``(lowest, highest, member indices)`` of up to ``buckets`` groups of about equal size,
    cut at quantiles; equal values always fall in the same group."""
    if len(values) == 0:
        return []
    cuts = np.unique(np.quantile(values, np.linspace(0, 1, buckets + 1)[1:-1], method="lower"))
    which = np.searchsorted(cuts, values, side="left")
    groups = []
    for g in np.unique(which):
        members = np.flatnonzero(which == g)
        groups.append((values[members].min(), values[members].max(), members))
    return groups


def _accuracy(correct: np.ndarray) -> dict[str, Any]:
    n, hits = len(correct), int(np.sum(correct))
    return {
        "n": n,
        "accuracy": hits / n if n else None,
        "ci95": proportion_ci(hits, n),
    }


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"
