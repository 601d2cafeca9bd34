import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from modelcycle.data import load_dataset
from modelcycle.evaluation import compute_metrics, evaluate, expected_calibration_error
from modelcycle.models.linear import TfidfLogisticRegression

TRUTH = np.array(["a", "a", "b", "b", "b", "c"])
PROBA = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.4, 0.3, 0.3],
        [0.1, 0.1, 0.8],
    ]
)
CLASSES = ["a", "b", "c"]


def test_metrics_match_scikit_learn() -> None:
    m = compute_metrics(TRUTH, PROBA, CLASSES, bootstrap=0)
    predicted = np.array(CLASSES)[PROBA.argmax(axis=1)]
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(accuracy_score(TRUTH, predicted))
    assert m["macro_f1"] == pytest.approx(f1_score(TRUTH, predicted, average="macro"))
    assert m["weighted_f1"] == pytest.approx(f1_score(TRUTH, predicted, average="weighted"))
    p, r, f, s = precision_recall_fscore_support(TRUTH, predicted, labels=CLASSES)
    assert m["per_class"]["b"] == pytest.approx(
        {"precision": p[1], "recall": r[1], "f1": f[1], "support": s[1]}
    )
    assert m["roc_auc"] == pytest.approx(roc_auc_score(TRUTH, PROBA, multi_class="ovr"))
    assert m["log_loss"] == pytest.approx(log_loss(TRUTH, PROBA, labels=CLASSES))
    assert m["confusion_matrix"] == {"labels": CLASSES, "matrix": [[1, 1, 0], [1, 2, 0], [0, 0, 1]]}
    assert m["accuracy_ci95"] is None
    assert m["baselines"]["majority_accuracy"] == pytest.approx(0.5)
    assert m["baselines"]["stratified_random_accuracy"] == pytest.approx(
        (2 / 6) ** 2 + 0.25 + (1 / 6) ** 2
    )


def test_binary_roc_auc_uses_the_second_class() -> None:
    truth = np.array(["neg", "pos", "pos", "neg"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    m = compute_metrics(truth, proba, ["neg", "pos"], bootstrap=0)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(truth == "pos", proba[:, 1]))


def test_unseen_labels_count_as_errors_and_undefined_metrics_are_none() -> None:
    truth = np.array(["a", "z"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])
    m = compute_metrics(truth, proba, ["a", "b"], bootstrap=0)
    assert m["accuracy"] == 0.5
    assert m["confusion_matrix"]["labels"] == ["a", "b", "z"]
    assert m["log_loss"] is None
    assert m["roc_auc"] is None


def test_expected_calibration_error_known_case() -> None:
    # Bin [0.8, 0.9): confidence 0.85 twice, one right -> |0.5 - 0.85| = 0.35 over 2 of 4 rows.
    # Bin [0.6, 0.7): confidence 0.65 twice, both right -> |1.0 - 0.65| = 0.35 over 2 of 4 rows.
    ece = expected_calibration_error(
        np.array([0.85, 0.85, 0.65, 0.65]), np.array([1.0, 0.0, 1.0, 1.0]), 10
    )
    assert ece == pytest.approx(0.35)
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([1.0, 1.0]), 10) == 0.0


def test_bootstrap_interval_brackets_accuracy_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    truth = rng.choice(["a", "b"], size=400)
    proba = rng.dirichlet([1, 1], size=400)
    first = compute_metrics(truth, proba, ["a", "b"], bootstrap=500, seed=3)
    second = compute_metrics(truth, proba, ["a", "b"], bootstrap=500, seed=3)
    low, high = first["accuracy_ci95"]
    assert low < first["accuracy"] < high
    assert 0.05 < high - low < 0.15  # about ±1.96 * sqrt(0.25 / 400) = ±0.049
    assert first["accuracy_ci95"] == second["accuracy_ci95"]


def test_evaluate_writes_json_and_html(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1).fit(data.texts, data.labels)
    report = evaluate(model, data, model_name="tiny")
    report.write(tmp_path / "eval")
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["accuracy"] == 1.0
    assert written["model"] == "tiny"
    for key in (
        "n",
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "per_class",
        "confusion_matrix",
        "roc_auc",
        "ece",
        "accuracy_ci95",
    ):
        assert key in written
    page = (tmp_path / "eval" / "evaluation.html").read_text()
    assert "<h2>Confusion matrix</h2>" in page
    assert "Evaluation of tiny" in page
