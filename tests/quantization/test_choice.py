"""The one rule that names a variant: the smallest, then fastest, within the accuracy budget;
the table, the run page and `modelcycle run` all use it."""

from typing import Any

import pytest

from modelcycle.pipeline import smallest_variant
from modelcycle.quantization import pick_variant, rule_text
from modelcycle.quantization._choice import choose

ROWS: list[dict[str, Any]] = [
    {"precision": "fp32", "size_bytes": 1000, "latency_ms_p50": 2.0, "accuracy_delta": 0.0},
    {"precision": "fp16", "size_bytes": 500, "latency_ms_p50": 2.5, "accuracy_delta": 0.0},
    {"precision": "int8", "size_bytes": 300, "latency_ms_p50": 1.0, "accuracy_delta": -0.004},
    {"precision": "pq", "size_bytes": 100, "latency_ms_p50": 1.5, "accuracy_delta": -0.02},
]


@pytest.mark.parametrize(
    ("max_drop", "expected"),
    [(None, "pq"), (5.0, "pq"), (2.0, "pq"), (1.0, "int8"), (0.4, "int8"), (0.3, "fp16")],
)
def test_the_smallest_variant_within_the_budget(max_drop: float | None, expected: str) -> None:
    assert pick_variant(ROWS, max_drop)["precision"] == expected


def test_equal_sizes_go_to_the_faster() -> None:
    rows = [dict(ROWS[0]), {**ROWS[0], "precision": "other", "latency_ms_p50": 1.0}]
    assert pick_variant(rows, 0.0)["precision"] == "other"


def test_the_run_names_the_variant_the_table_chooses() -> None:
    quantized = {
        row["precision"]: {k: v for k, v in row.items() if k != "precision"} for row in ROWS
    }
    rows = [
        {**row, "size_ratio": row["size_bytes"] / 1000, "speedup": 1.0, "accuracy": 0.8}
        for row in ROWS
    ]
    rows = [{**row, "path": row["precision"]} for row in rows]
    for max_drop in (None, 1.0, 0.3):
        named = smallest_variant(quantized, max_drop)
        assert named == pick_variant(ROWS, max_drop)["precision"]
        choice = choose(rows, max_drop)
        assert (choice is None) if max_drop is None else (choice["precision"] == named)
    assert choose(rows, 1.0) == {
        "precision": "int8",
        "path": "int8",
        "reason": "int8 is the smallest variant within 1 accuracy points of FP32: 300 B (30% of "
        "FP32), 1.00x the speed, accuracy 0.8000 (-0.40 points)",
    }


def test_the_rule_in_words() -> None:
    assert rule_text(None) == "smallest variant"
    assert rule_text(0.5) == "smallest variant within 0.5 accuracy points of FP32"
