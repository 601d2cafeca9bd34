"""The recommendation rule on constructed leaderboards: significance, constraints, ties."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcycle.selection import mark_pareto, mcnemar_p, recommend

NONE = {"max_latency_ms": None, "max_size_mb": None, "min_accuracy": None}
ROWS = 1000


def row(name: str, right: int, size: float, latency: float, *, shift: int = 0) -> dict[str, Any]:
    """A candidate right on ``right`` of ROWS validation rows (rows ``shift`` .. ``shift+right``,
    cyclically), so that two rows' disagreements are set by their counts and shifts."""
    correct = np.zeros(ROWS, dtype=bool)
    correct[(np.arange(right) + shift) % ROWS] = True
    return {
        "name": name,
        "accuracy": right / ROWS,
        "accuracy_ci95": [right / ROWS - 0.03, right / ROWS + 0.03],
        "size_mb": size,
        "latency_ms_p50": latency,
        "correct": correct,
    }


def test_mcnemar_exact_p_values() -> None:
    a = np.array([True] * 10 + [False] * 10)
    assert mcnemar_p(a, a) == 1.0
    # 10 rows only a got right, 0 only b: two-sided exact p = 2 * 0.5**10
    assert mcnemar_p(a, np.zeros(20, dtype=bool)) == pytest.approx(2 * 0.5**10)
    b = a.copy()
    b[0], b[10] = False, True  # one row each way: no evidence either way
    assert mcnemar_p(a, b) == 1.0
    with pytest.raises(ValueError, match=r"paired test on \(20,\) and \(3,\) rows"):
        mcnemar_p(a, np.zeros(3, dtype=bool))


def test_the_issue_case_picks_the_small_model_inside_the_interval() -> None:
    """fasttext 77.1 MB at +0.0005 accuracy over logreg 0.59 MB: logreg, with the reason."""
    rows = [row("fasttext#3", 871, 77.1, 0.30), row("logreg#0", 870, 0.59, 0.21)]
    choice = recommend(rows, NONE)
    assert choice.pick is rows[1]
    assert choice.best is rows[0]
    assert rows[1]["tied_with_best"]
    assert choice.reason == (
        "logreg#0 (accuracy 0.8700, 95% interval 0.840–0.900, 0.59 MB, p50 0.21 ms) is the "
        "cheapest model whose accuracy is not significantly below the most accurate, fasttext#3 "
        "(accuracy 0.8710, 95% interval 0.841–0.901, 77.1 MB, p50 0.3 ms): McNemar's exact test "
        "on the same validation rows, p = 1 >= 0.05."
    )


def test_a_significantly_better_large_model_is_picked() -> None:
    # the small model misses 60 rows the large one gets: p far below 0.05
    rows = [row("big#1", 900, 80.0, 1.0), row("small#2", 840, 1.0, 0.2)]
    choice = recommend(rows, NONE)
    assert choice.pick is rows[0]
    assert rows[1]["p_value"] < 1e-10
    assert not rows[1]["tied_with_best"]
    assert choice.reason.startswith(
        "big#1 (accuracy 0.9000, 95% interval 0.870–0.930, 80 MB, p50 1 ms) is the most accurate "
        "model, and every smaller one is significantly below it: the closest, small#2"
    )
    assert choice.reason.endswith("(McNemar's exact test on the same validation rows).")


def test_the_level_decides() -> None:
    # 12 rows only the best gets, 2 only the other: p = 0.0129
    rows = [row("a#0", 860, 10.0, 1.0), row("b#1", 850, 1.0, 1.0, shift=ROWS - 2)]
    assert mcnemar_p(rows[0]["correct"], rows[1]["correct"]) == pytest.approx(0.012939, abs=1e-5)
    assert recommend(rows, NONE, alpha=0.05).pick is rows[0]
    assert recommend(rows, NONE, alpha=0.01).pick is rows[1]


def test_constraints_filter_before_the_test() -> None:
    rows = [
        row("a#0", 900, 80.0, 5.0),
        row("b#1", 890, 2.0, 1.0),
        row("c#2", 800, 1.0, 0.5),
    ]
    choice = recommend(rows, {"max_latency_ms": 2.0, "max_size_mb": 10.0, "min_accuracy": None})
    assert choice.best is rows[1]
    assert choice.pick is rows[1]  # c is significantly below b
    assert [r["meets_constraints"] for r in rows] == [False, True, True]
    assert choice.reason.startswith("b#1 (accuracy 0.8900")
    assert "is the most accurate model among the models with max latency ms 2, max size mb 10" in (
        choice.reason
    )
    none = recommend(rows, {"max_latency_ms": 0.1, "max_size_mb": None, "min_accuracy": 0.95})
    assert none.pick is None
    assert none.reason == (
        "No model meets the constraints; the closest is a#0 "
        "(p50 latency 5 ms > 0.1 ms; accuracy 0.9000 < 0.95)."
    )
    assert recommend([], NONE).reason == "No model was measured."


def test_ties() -> None:
    same = [row("a#0", 900, 5.0, 1.0), row("b#1", 900, 2.0, 1.0), row("c#2", 900, 2.0, 0.5)]
    choice = recommend(same, NONE)
    assert choice.best is same[2]  # most accurate, then smaller, then faster
    assert choice.pick is same[2]
    twins = [row("a#0", 900, 2.0, 1.0), row("b#1", 900, 2.0, 1.0)]
    assert recommend(twins, NONE).pick is twins[0]  # all equal: the first listed


def test_within_2x_of_the_cheapest_accuracy_decides() -> None:
    rows = [
        row("big#0", 905, 50.0, 1.0),
        row("tiny#1", 900, 1.0, 0.3),
        row("small#2", 903, 1.5, 0.5),  # within 2x of tiny's size and latency, more accurate
        row("slow#3", 904, 1.2, 5.0),  # small, but over 2x tiny's latency
    ]
    choice = recommend(rows, NONE)
    assert [r["tied_with_best"] for r in rows] == [True, True, True, True]
    assert choice.pick is rows[2]
    alone = [row("a#0", 905, 1.5, 0.5), row("b#1", 900, 1.0, 0.4)]
    choice = recommend(alone, NONE)
    assert choice.pick is alone[0]
    assert choice.reason.startswith(
        "a#0 (accuracy 0.9050, 95% interval 0.875–0.935, 1.5 MB, p50 0.5 ms) is the most accurate "
        "model; the smaller ones not significantly below it are within 2x of its size and "
        "latency, so accuracy decides (the closest, b#1"
    )


def test_pareto_front() -> None:
    rows = [row("a", 900, 1, 5.0), row("b", 850, 1, 1.0), row("c", 840, 1, 2.0)]
    rows.append(row("d", 900, 1, 6.0))
    mark_pareto(rows)
    assert [r["pareto"] for r in rows] == [True, True, False, False]


candidate = st.tuples(
    st.integers(min_value=860, max_value=900),  # rows right: close, so that many are tied
    st.floats(min_value=0.05, max_value=500.0),  # size MB
    st.floats(min_value=0.01, max_value=50.0),  # p50 ms
    st.integers(min_value=0, max_value=40),  # which rows
)


@settings(max_examples=150, deadline=None)
@given(st.lists(candidate, min_size=1, max_size=8))
def test_never_picks_a_model_2x_larger_or_slower_than_an_indistinguishable_one(
    specs: list[tuple[int, float, float, int]],
) -> None:
    """No candidate statistically indistinguishable from the best (as the pick is) is under
    half the pick's size, or under half its latency while no larger."""
    rows = [row(f"m#{i}", r, s, t, shift=k) for i, (r, s, t, k) in enumerate(specs)]
    pick = recommend(rows, NONE).pick
    assert pick is not None
    assert pick["tied_with_best"]
    for other in rows:
        if not other["tied_with_best"]:
            continue
        assert not other["size_mb"] * 2 < pick["size_mb"]
        assert not (
            other["latency_ms_p50"] * 2 < pick["latency_ms_p50"]
            and other["size_mb"] <= pick["size_mb"]
        )
