"""compare(): two models on the same rows; the counts, the test and the examples agree."""

import json
from pathlib import Path

import numpy as np
import pytest

from modelcycle.config import EvalConfig
from modelcycle.data import Dataset
from modelcycle.evaluation import compare, mcnemar
from modelcycle.models.linear import TfidfLogisticRegression

TEXTS = [
    "great film",
    "awful film",
    "great fun",
    "awful mess",
    "fine film",
    "dull film",
    "not great",
    "not awful",
]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "neg", "pos"]


@pytest.fixture
def models() -> tuple[TfidfLogisticRegression, TfidfLogisticRegression]:
    good = TfidfLogisticRegression(min_df=1, C=100.0).fit(TEXTS, LABELS)
    # Trained on half the rows, so it gets the negations and unseen words wrong.
    weak = TfidfLogisticRegression(min_df=1).fit(TEXTS[:4], LABELS[:4])
    return good, weak


def test_counts_difference_and_test_are_consistent(
    tmp_path: Path, models: tuple[TfidfLogisticRegression, TfidfLogisticRegression]
) -> None:
    good, weak = models
    data = Dataset.from_records(TEXTS, LABELS)
    report = compare(good, weak, data, EvalConfig(bootstrap=500), names=("good", "weak"))
    r = report.result
    right_a = good.predict(TEXTS) == np.array(LABELS)
    right_b = weak.predict(TEXTS) == np.array(LABELS)
    assert r["counts"] == {
        "both_correct": int(np.sum(right_a & right_b)),
        "only_a": int(np.sum(right_a & ~right_b)),
        "only_b": int(np.sum(~right_a & right_b)),
        "both_wrong": int(np.sum(~right_a & ~right_b)),
    }
    assert sum(r["counts"].values()) == r["n"] == 8
    assert r["difference"]["accuracy"] == pytest.approx(right_a.mean() - right_b.mean())
    assert r["models"]["a"]["accuracy"] == pytest.approx(right_a.mean())
    assert r["models"]["a"]["name"] == "good"
    assert r["mcnemar"] == mcnemar(r["counts"]["only_a"], r["counts"]["only_b"])
    only_a = r["disagreements"]["only_a_correct"]
    assert {e["row"] for e in only_a} == {int(i) + 1 for i in np.flatnonzero(right_a & ~right_b)}
    for example in only_a:
        assert example["a"]["predicted"] == example["label"] != example["b"]["predicted"]
        assert example["text"] == TEXTS[example["row"] - 1]
    assert r["better"] is None  # 8 rows cannot show a difference beyond chance
    report.write(tmp_path / "cmp")
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["n"] == 8
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    assert "Is the difference real?" in page
    assert "not great" in page or "not awful" in page


def test_a_model_against_itself() -> None:
    model = TfidfLogisticRegression(min_df=1).fit(TEXTS, LABELS)
    r = compare(model, model, Dataset.from_records(TEXTS, LABELS)).result
    assert r["difference"] == {"accuracy": 0.0, "ci95": [0.0, 0.0]}
    assert r["agreement"] == 1.0
    assert r["mcnemar"]["p_value"] == 1.0
    assert r["disagreements"] == {"only_a_correct": [], "only_b_correct": []}


def test_a_clear_difference_is_called(
    models: tuple[TfidfLogisticRegression, TfidfLogisticRegression],
) -> None:
    good, weak = models
    data = Dataset.from_records(TEXTS * 10, LABELS * 10)  # the same pattern on 80 rows
    r = compare(weak, good, data, EvalConfig(bootstrap=500)).result
    assert r["counts"]["only_a"] == 0 < r["counts"]["only_b"]
    assert r["mcnemar"]["p_value"] < 0.05
    assert r["difference"]["ci95"][1] < 0
    assert r["better"] == "b"
