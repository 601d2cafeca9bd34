"""Every metric against scikit-learn's own functions; intervals and tests against known cases."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize

from modelcycle import evaluation as metrics  # the metrics' public names

TRUTH = np.array(["a", "a", "b", "b", "b", "c", "c", "a"])
PROBA = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.4, 0.3, 0.3],
        [0.1, 0.1, 0.8],
        [0.2, 0.3, 0.5],
        [0.5, 0.1, 0.4],
    ]
)
CLASSES = ["a", "b", "c"]
PREDICTED = np.array(CLASSES)[PROBA.argmax(axis=1)]


def test_every_metric_matches_scikit_learn() -> None:
    m = metrics.compute_metrics(TRUTH, PROBA, CLASSES, bootstrap=0)
    assert m["n"] == 8
    assert m["accuracy"] == pytest.approx(accuracy_score(TRUTH, PREDICTED))
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(TRUTH, PREDICTED, average=average)
        assert m[f"{average}_precision"] == pytest.approx(p)
        assert m[f"{average}_recall"] == pytest.approx(r)
        assert m[f"{average}_f1"] == pytest.approx(f)
        assert m[f"{average}_f1"] == pytest.approx(f1_score(TRUTH, PREDICTED, average=average))
    p, r, f, s = precision_recall_fscore_support(TRUTH, PREDICTED, labels=CLASSES)
    onehot = label_binarize(TRUTH, classes=CLASSES)
    for j, label in enumerate(CLASSES):
        assert m["per_class"][label] == pytest.approx(
            {
                "precision": p[j],
                "recall": r[j],
                "f1": f[j],
                "support": s[j],
                "roc_auc": roc_auc_score(onehot[:, j], PROBA[:, j]),
                "pr_auc": average_precision_score(onehot[:, j], PROBA[:, j]),
            }
        )
    assert m["roc_auc"] == pytest.approx(roc_auc_score(TRUTH, PROBA, multi_class="ovr"))
    assert m["pr_auc"] == pytest.approx(average_precision_score(onehot, PROBA, average="macro"))
    assert m["log_loss"] == pytest.approx(log_loss(TRUTH, PROBA, labels=CLASSES))
    assert m["confusion_matrix"] == {
        "labels": CLASSES,
        "matrix": confusion_matrix(TRUTH, PREDICTED, labels=CLASSES).tolist(),
        "folded": [],
    }
    np.testing.assert_allclose(
        m["confusion_matrix_normalized"]["matrix"],
        confusion_matrix(TRUTH, PREDICTED, labels=CLASSES, normalize="true"),
    )
    assert m["accuracy_ci95"] is None
    assert m["positive_label"] is None
    assert m["baselines"] == pytest.approx(
        {
            "majority_label": "a",
            "majority_accuracy": 3 / 8,
            "stratified_random_accuracy": (3 / 8) ** 2 + (3 / 8) ** 2 + (2 / 8) ** 2,
        }
    )


def test_binary_auc_and_pr_auc_are_of_the_second_class() -> None:
    truth = np.array(["neg", "pos", "pos", "neg", "pos"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    m = metrics.compute_metrics(truth, proba, ["neg", "pos"], bootstrap=0)
    assert m["positive_label"] == "pos"
    assert m["roc_auc"] == pytest.approx(roc_auc_score(truth == "pos", proba[:, 1]))
    assert m["pr_auc"] == pytest.approx(average_precision_score(truth == "pos", proba[:, 1]))
    assert m["per_class"]["neg"]["pr_auc"] == pytest.approx(
        average_precision_score(truth == "neg", proba[:, 0])
    )


def test_given_answers_replace_the_most_probable_class() -> None:
    # A threshold may answer a class that is not the most probable one.
    predicted = np.array(["a", "a", "b", "b", "a", "c", "b", "a"])
    m = metrics.compute_metrics(TRUTH, PROBA, CLASSES, predicted=predicted, bootstrap=0)
    assert m["accuracy"] == pytest.approx(accuracy_score(TRUTH, predicted))
    assert m["macro_f1"] == pytest.approx(f1_score(TRUTH, predicted, average="macro"))
    confidence = PROBA[np.arange(8), np.searchsorted(CLASSES, predicted)]
    assert m["ece"] == pytest.approx(
        metrics.expected_calibration_error(confidence, (predicted == TRUTH) * 1.0, 10)
    )


def test_unseen_labels_count_as_errors_and_undefined_metrics_are_none() -> None:
    truth = np.array(["a", "z"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])
    m = metrics.compute_metrics(truth, proba, ["a", "b"], bootstrap=0)
    assert m["accuracy"] == 0.5
    assert m["confusion_matrix"]["labels"] == ["a", "b", "z"]
    assert m["log_loss"] is None
    assert m["roc_auc"] is None
    assert m["per_class"]["z"]["roc_auc"] is None


def test_per_class_ranking_scores_match_scikit_learn_with_ties_and_unknown_rows() -> None:
    rng = np.random.default_rng(7)
    classes = ["a", "b", "c", "d"]
    truth = rng.choice(["a", "b", "c", "d", "z"], size=300)
    proba = rng.dirichlet([1, 1, 1, 1], size=300).round(1)  # rounded: many tied scores
    proba /= proba.sum(axis=1, keepdims=True)
    m = metrics.compute_metrics(truth, proba, classes, bootstrap=0)
    for j, label in enumerate(classes):
        positive = truth == label
        assert m["per_class"][label]["roc_auc"] == pytest.approx(
            roc_auc_score(positive, proba[:, j])
        )
        assert m["per_class"][label]["pr_auc"] == pytest.approx(
            average_precision_score(positive, proba[:, j])
        )
    known = truth != "z"
    assert m["roc_auc"] == pytest.approx(
        roc_auc_score(truth[known], proba[known], multi_class="ovr", labels=classes)
    )


def test_confusion_matrix_of_many_labels_folds_the_smallest_into_other() -> None:
    k = metrics.CONFUSION_LABELS + 5
    names = [f"l{i:02d}" for i in range(k)]
    # Label i has k - i rows, all answered right but for one row of l00 answered l34.
    truth = np.array([name for i, name in enumerate(names) for _ in range(k - i)])
    predicted = truth.copy()
    predicted[0] = names[-1]
    proba = np.full((len(truth), k), 1 / k)
    m = metrics.compute_metrics(truth, proba, names, predicted=predicted, bootstrap=0)
    confusion = m["confusion_matrix"]
    kept = names[: metrics.CONFUSION_LABELS]
    assert confusion["labels"] == [*kept, "(other 5 labels)"]
    assert confusion["folded"] == names[metrics.CONFUSION_LABELS :]
    matrix = np.array(confusion["matrix"])
    assert matrix.shape == (metrics.CONFUSION_LABELS + 1, metrics.CONFUSION_LABELS + 1)
    assert matrix[0, 0] == k - 1
    assert matrix[0, -1] == 1  # l00 answered l34, a folded label
    assert matrix[-1, -1] == sum(k - i for i in range(metrics.CONFUSION_LABELS, k))
    assert matrix.sum() == len(truth)
    assert m["confusion_matrix_normalized"]["labels"] == confusion["labels"]
    assert len(m["per_class"]) == k


def test_one_label_more_than_the_limit_is_shown_not_folded() -> None:
    names = [f"l{i:02d}" for i in range(metrics.CONFUSION_LABELS + 1)]
    proba = np.eye(len(names))
    m = metrics.compute_metrics(np.array(names), proba, names, bootstrap=0)
    assert m["confusion_matrix"]["labels"] == names
    assert m["confusion_matrix"]["folded"] == []
    assert m["confusion_matrix"]["matrix"] == np.eye(len(names), dtype=int).tolist()


def test_expected_calibration_error_known_case() -> None:
    # Bin [0.8, 0.9): confidence 0.85 twice, one right -> |0.5 - 0.85| = 0.35 over 2 of 4 rows.
    # Bin [0.6, 0.7): confidence 0.65 twice, both right -> |1.0 - 0.65| = 0.35 over 2 of 4 rows.
    ece = metrics.expected_calibration_error(
        np.array([0.85, 0.85, 0.65, 0.65]), np.array([1.0, 0.0, 1.0, 1.0]), 10
    )
    assert ece == pytest.approx(0.35)
    assert metrics.expected_calibration_error(np.array([1.0, 1.0]), np.array([1.0, 1.0]), 10) == 0.0


def test_reliability_bins_known_case() -> None:
    bins = metrics.reliability_bins(
        np.array([0.55, 0.65, 0.95, 0.91]), np.array([1.0, 0.0, 1.0, 0.0]), 2
    )
    assert bins == [
        {"low": 0.0, "high": 0.5, "count": 0, "confidence": None, "accuracy": None},
        {"low": 0.5, "high": 1.0, "count": 4, "confidence": pytest.approx(0.765), "accuracy": 0.5},
    ]


def test_bootstrap_interval_brackets_accuracy_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    truth = rng.choice(["a", "b"], size=400)
    proba = rng.dirichlet([1, 1], size=400)
    first = metrics.compute_metrics(truth, proba, ["a", "b"], bootstrap=500, seed=3)
    second = metrics.compute_metrics(truth, proba, ["a", "b"], bootstrap=500, seed=3)
    low, high = first["accuracy_ci95"]
    assert low < first["accuracy"] < high
    assert 0.05 < high - low < 0.15  # about ±1.96 * sqrt(0.25 / 400) = ±0.049
    assert first["accuracy_ci95"] == second["accuracy_ci95"]


def test_bootstrap_known_cases() -> None:
    assert metrics.bootstrap_accuracy_ci(np.ones(50), 1000, 0) == [1.0, 1.0]
    assert metrics.bootstrap_accuracy_ci(np.zeros(50), 1000, 0) == [0.0, 0.0]
    assert metrics.bootstrap_accuracy_ci(np.ones(50), 0, 0) is None


def test_bootstrap_agrees_with_scipy_resampling_rows() -> None:
    correct = np.r_[np.ones(300), np.zeros(100)]  # accuracy 0.75 over 400 rows
    ours = metrics.bootstrap_accuracy_ci(correct, 20_000, 1)
    theirs = stats.bootstrap(
        (correct,), np.mean, n_resamples=20_000, method="percentile", rng=np.random.default_rng(2)
    ).confidence_interval
    assert ours is not None
    assert ours == pytest.approx([theirs.low, theirs.high], abs=0.006)
    assert ours == pytest.approx([0.7075, 0.7925], abs=0.006)  # 0.75 ± 1.96 * sqrt(.75*.25/400)


def test_paired_bootstrap_known_cases() -> None:
    same = np.array([1, 0, 1, 1, 0], dtype=bool)
    assert metrics.paired_bootstrap_ci(same, same, 500, 0) == [0.0, 0.0]
    assert metrics.paired_bootstrap_ci(np.ones(20, bool), np.zeros(20, bool), 500, 0) == [1.0, 1.0]
    assert metrics.paired_bootstrap_ci(same, same, 0, 0) is None


def test_paired_bootstrap_agrees_with_scipy_paired_resampling() -> None:
    rng = np.random.default_rng(5)
    a = rng.random(500) < 0.8
    b = np.where(rng.random(500) < 0.85, a, ~a)  # B agrees with A on about 85% of the rows
    ours = metrics.paired_bootstrap_ci(a, b, 20_000, 3)
    theirs = stats.bootstrap(
        (a * 1.0, b * 1.0),
        lambda x, y: np.mean(x) - np.mean(y),
        paired=True,
        n_resamples=20_000,
        method="percentile",
        rng=np.random.default_rng(4),
    ).confidence_interval
    assert ours is not None
    assert ours == pytest.approx([theirs.low, theirs.high], abs=0.006)
    assert ours[0] < a.mean() - b.mean() < ours[1]


def test_mcnemar_agresti_presidential_approval() -> None:
    # Agresti, Categorical Data Analysis: 1,600 voters, 150 approve -> disapprove, 86 the other
    # way. Uncorrected z^2 = (150 - 86)^2 / 236 = 17.36; corrected (64 - 1)^2 / 236 = 16.82.
    result = metrics.mcnemar(150, 86)
    assert result["statistic"] == pytest.approx(63**2 / 236)
    assert result["chi2_p_value"] == pytest.approx(4.1146e-05, rel=1e-3)
    assert result["p_value"] < 1e-4
    assert metrics.mcnemar(86, 150)["p_value"] == result["p_value"]


def test_mcnemar_small_case_by_hand() -> None:
    # 1 vs 9 discordant pairs: exact two-sided p = 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024.
    result = metrics.mcnemar(1, 9)
    assert result["p_value"] == pytest.approx(22 / 1024)
    assert result["statistic"] == pytest.approx(4.9)  # (|1 - 9| - 1)^2 / 10
    assert result["chi2_p_value"] == pytest.approx(0.026857, rel=1e-4)
    assert metrics.mcnemar(5, 5)["p_value"] == pytest.approx(1.0)
    assert metrics.mcnemar(0, 0)["p_value"] == 1.0


def test_wilson_interval_textbook_value() -> None:
    assert metrics.proportion_ci(8, 10) == pytest.approx([0.4902, 0.9433], abs=1e-4)
    assert metrics.proportion_ci(0, 0) is None
