"""The recommendation rule, stated once: the cheapest model (size, then p50 latency) whose
accuracy is not significantly below the best's, among those that meet the constraints. Sizes and
latencies within a factor ``SAME`` (2) of the smallest (fastest) count as equal, and then the more
accurate model wins: so the pick is never more than twice as large, or as slow, as another model
whose accuracy is statistically indistinguishable, and never trades accuracy for a few kilobytes.

"Significantly below" is McNemar's exact test (two-sided) of each candidate against the most
accurate one on the same validation rows (every row scored once: the held-out part, or the
out-of-fold predictions of k-fold cross-validation), at level ``alpha``. Each row of a leaderboard
is a dict with ``name``, ``accuracy``, ``accuracy_ci95``, ``size_mb``, ``latency_ms_p50`` and,
for the test, a boolean array of which validation rows it got right (``correct``, not saved).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

from modelcycle.config import SelectConfig

__all__ = [
    "SAME",
    "TEST_NAME",
    "Recommendation",
    "constraints",
    "mark_pareto",
    "mcnemar_p",
    "recommend",
]

TEST_NAME = "McNemar's exact test"
SAME = 2.0  # sizes (latencies) within this factor of the smallest (fastest) count as equal


def mcnemar_p(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided p-value of McNemar's exact test: do two classifiers that scored the same rows
    differ in accuracy? Only the rows where exactly one of them is right count."""
    if correct_a.shape != correct_b.shape:
        raise ValueError(f"paired test on {correct_a.shape} and {correct_b.shape} rows")
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue)


def mark_pareto(rows: Sequence[dict[str, Any]]) -> None:
    """``pareto``: no other row is at least as accurate and as fast, and better in one."""
    for row in rows:
        row["pareto"] = not any(
            other["accuracy"] >= row["accuracy"]
            and other["latency_ms_p50"] <= row["latency_ms_p50"]
            and (
                other["accuracy"] > row["accuracy"]
                or other["latency_ms_p50"] < row["latency_ms_p50"]
            )
            for other in rows
        )


@dataclass(frozen=True)
class Recommendation:
    """The pick (None when no row meets the constraints), the most accurate row it was tested
    against, and the reason in one sentence."""

    pick: dict[str, Any] | None
    best: dict[str, Any] | None
    reason: str


def constraints(config: SelectConfig) -> dict[str, float | None]:
    """The limits a pick must meet, from ``config`` (None: no limit)."""
    return {
        "max_latency_ms": config.max_latency_ms,
        "max_size_mb": config.max_size_mb,
        "min_accuracy": config.min_accuracy,
    }


def violations(row: Mapping[str, Any], constraints: Mapping[str, float | None]) -> list[str]:
    """The constraints ``row`` breaks, each as a phrase."""
    why = []
    limit = constraints.get("max_latency_ms")
    if limit is not None and row["latency_ms_p50"] > limit:
        why.append(f"p50 latency {row['latency_ms_p50']:.3g} ms > {limit:g} ms")
    limit = constraints.get("max_size_mb")
    if limit is not None and row["size_mb"] > limit:
        why.append(f"size {row['size_mb']:.3g} MB > {limit:g} MB")
    limit = constraints.get("min_accuracy")
    if limit is not None and row["accuracy"] < limit:
        why.append(f"accuracy {row['accuracy']:.4f} < {limit:g}")
    return why


def recommend(
    rows: Sequence[dict[str, Any]],
    constraints: Mapping[str, float | None],
    *,
    alpha: float = 0.05,
) -> Recommendation:
    """Apply the rule to ``rows``; sets ``meets_constraints``, ``p_value`` (against the best)
    and ``tied_with_best`` on each row.

    The best is the most accurate row (ties: the smaller, then the faster). Of the rows tied
    with it, those within ``SAME`` times the smallest size, then of those the ones within
    ``SAME`` times the lowest latency, are equally cheap; the most accurate of them is the pick
    (ties: the smaller, the faster, the first listed).
    """
    for row in rows:
        row["meets_constraints"] = not violations(row, constraints)
        row["p_value"], row["tied_with_best"] = None, False
    feasible = [row for row in rows if row["meets_constraints"]]
    if not feasible:
        if not rows:
            return Recommendation(None, None, "No model was measured.")
        closest = min(rows, key=lambda r: len(violations(r, constraints)))
        return Recommendation(
            None,
            None,
            f"No model meets the constraints; the closest is {closest['name']} "
            f"({'; '.join(violations(closest, constraints))}).",
        )
    best = min(feasible, key=lambda r: (-r["accuracy"], r["size_mb"], r["latency_ms_p50"]))
    for row in feasible:
        row["p_value"] = 1.0 if row is best else mcnemar_p(best["correct"], row["correct"])
        row["tied_with_best"] = row["p_value"] >= alpha
    tied = [row for row in feasible if row["tied_with_best"]]
    smallest = min(row["size_mb"] for row in tied)
    small = [row for row in tied if row["size_mb"] <= SAME * smallest]
    fastest = min(row["latency_ms_p50"] for row in small)
    cheap = [row for row in small if row["latency_ms_p50"] <= SAME * fastest]
    pick = min(
        cheap,
        key=lambda r: (-r["accuracy"], r["size_mb"], r["latency_ms_p50"], feasible.index(r)),
    )
    return Recommendation(pick, best, _reason(pick, best, feasible, constraints, alpha))


def _figures(row: Mapping[str, Any]) -> str:
    low, high = row["accuracy_ci95"]
    return (
        f"accuracy {row['accuracy']:.4f}, 95% interval {low:.3f}–{high:.3f}, "
        f"{row['size_mb']:.3g} MB, p50 {row['latency_ms_p50']:.3g} ms"
    )


def _reason(
    pick: Mapping[str, Any],
    best: Mapping[str, Any],
    feasible: Sequence[Mapping[str, Any]],
    constraints: Mapping[str, float | None],
    alpha: float,
) -> str:
    stated = [f"{k.replace('_', ' ')} {v:g}" for k, v in constraints.items() if v is not None]
    among = f" among the models with {', '.join(stated)}" if stated else ""
    if pick is not best:
        return (
            f"{pick['name']} ({_figures(pick)}) is the cheapest model{among} whose accuracy is "
            f"not significantly below the most accurate, {best['name']} ({_figures(best)}): "
            f"{TEST_NAME} on the same validation rows, p = {pick['p_value']:.3g} >= {alpha:g}."
        )
    smaller = [r for r in feasible if r["size_mb"] < pick["size_mb"]]
    if not smaller:
        return (
            f"{pick['name']} ({_figures(pick)}) is the most accurate model{among} and the smallest."
        )
    closest = max(smaller, key=lambda r: r["p_value"])
    test = f"{TEST_NAME} on the same validation rows"
    if closest["tied_with_best"]:
        return (
            f"{pick['name']} ({_figures(pick)}) is the most accurate model{among}; the smaller "
            f"ones not significantly below it are within {SAME:g}x of its size and latency, so "
            f"accuracy decides (the closest, {closest['name']} ({_figures(closest)}), has "
            f"p = {closest['p_value']:.3g} >= {alpha:g}, {test})."
        )
    return (
        f"{pick['name']} ({_figures(pick)}) is the most accurate model{among}, and every smaller "
        f"one is significantly below it: the closest, {closest['name']} ({_figures(closest)}), "
        f"has p = {closest['p_value']:.3g} < {alpha:g} ({test})."
    )
