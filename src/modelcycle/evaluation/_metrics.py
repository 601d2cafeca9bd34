"""The numbers of ``metrics.json``: scikit-learn's metrics on fixed predictions, intervals, tests.

Labels are turned into integer codes once, so that every scikit-learn call on 25,000 rows works on
integers rather than sorting strings again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import (
    precision_recall_fscore_support,
    roc_auc_score,
)

from modelcycle.config import EvalConfig

__all__ = [
    "CONFUSION_LABELS",
    "bootstrap_accuracy_ci",
    "compute_metrics",
    "evaluation_metrics",
    "expected_calibration_error",
    "mcnemar",
    "paired_bootstrap_ci",
    "proportion_ci",
    "reliability_bins",
]


CONFUSION_LABELS = 30
"""The confusion matrix shows at most this many labels, those with the most rows, and adds up the
others in one ``(other N labels)`` row and column, so that its size (and that of its plots) stays
bounded whatever the number of labels. ``per_class`` keeps every label."""


def compute_metrics(
    y_true: Sequence[str] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    predicted: Sequence[str] | np.ndarray | None = None,
    bootstrap: int = 1000,
    bins: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of ``metrics.json`` from true labels and predicted probabilities.

    ``proba[:, j]`` is the probability of ``classes[j]``; ``predicted`` are the answers (default:
    the most probable class; a tuned threshold gives others). Labels the model never saw count
    as errors; metrics that cannot be defined on the data (ROC-AUC with one class) are ``None``.
    Time and memory grow with the rows times the labels (the size of ``proba``), never with the
    square of the labels.
    """
    truth = np.asarray(y_true).astype(str)
    proba = np.asarray(proba, dtype=np.float64)
    classes_array = np.asarray(classes).astype(str)
    if predicted is None:
        answer = np.argmax(proba, axis=1)
        chosen = classes_array[answer]
    else:
        chosen = np.asarray(predicted).astype(str)
        answer = _codes(chosen, classes_array)
    label_array = np.unique(np.concatenate([classes_array, truth]))
    labels = label_array.tolist()
    true_code = np.searchsorted(label_array, truth)
    pred_code = np.searchsorted(label_array, chosen)
    codes = np.arange(len(labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        true_code, pred_code, labels=codes, zero_division=0
    )
    averages = {
        average: precision_recall_fscore_support(
            true_code, pred_code, labels=codes, average=average, zero_division=0
        )[:3]
        for average in ("macro", "weighted")
    }
    correct = (true_code == pred_code).astype(np.float64)
    confidence = proba[np.arange(len(truth)), answer] if len(truth) else np.empty(0)
    per_class_auc = _per_class_auc(truth, proba, classes_array)
    reliability = reliability_bins(confidence, correct, bins)
    metrics: dict[str, Any] = {
        "n": len(truth),
        "accuracy": float(correct.mean()),
        "accuracy_ci95": bootstrap_accuracy_ci(correct, bootstrap, seed),
        "macro_f1": float(averages["macro"][2]),
        "weighted_f1": float(averages["weighted"][2]),
        "macro_precision": float(averages["macro"][0]),
        "macro_recall": float(averages["macro"][1]),
        "weighted_precision": float(averages["weighted"][0]),
        "weighted_recall": float(averages["weighted"][1]),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
                **per_class_auc.get(label, {"roc_auc": None, "pr_auc": None}),
            }
            for i, label in enumerate(labels)
        },
        **_confusion(true_code, pred_code, labels),
        "roc_auc": _roc_auc(truth, proba, classes_array, per_class_auc),
        "pr_auc": _pr_auc(per_class_auc, truth, classes_array),
        "log_loss": _log_loss(truth, proba, classes_array),
        "ece": expected_calibration_error(confidence, correct, bins),
        "calibration": {"bins": reliability},
        "positive_label": str(classes_array[1]) if len(classes_array) == 2 else None,
        "baselines": _baselines(true_code, labels),
    }
    return metrics


def evaluation_metrics(
    truth: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    predicted: np.ndarray,
    config: EvalConfig,
    seed: int,
) -> dict[str, Any]:
    """:func:`compute_metrics` with the evaluation's bootstrap resamples and calibration bins."""
    return compute_metrics(
        truth,
        proba,
        classes,
        predicted=predicted,
        bootstrap=config.bootstrap,
        bins=config.calibration_bins,
        seed=seed,
    )


def _confusion(
    true_code: np.ndarray,
    pred_code: np.ndarray,
    labels: Sequence[str],
    limit: int = CONFUSION_LABELS,
) -> dict[str, Any]:
    """``confusion_matrix`` (counts; rows the true label, columns the answer) and
    ``confusion_matrix_normalized`` (shares of each row) over ``labels`` (codes index them).

    Past ``limit + 1`` labels, the ``limit`` with the most true rows (then answers) are kept and
    the rest are added up in a last ``(other N labels)`` row and column; ``folded`` lists them.
    Counted with one ``bincount``: no matrix of all labels against all labels is built.
    """
    k = len(labels)
    if k <= limit + 1:
        kept = np.arange(k)
    else:
        support = np.bincount(true_code, minlength=k)
        answers = np.bincount(pred_code, minlength=k)
        kept = np.sort(np.lexsort((np.arange(k), -answers, -support))[:limit])
    slot = np.full(k, len(kept))
    slot[kept] = np.arange(len(kept))
    size = len(kept) + (1 if len(kept) < k else 0)
    cells = np.bincount(slot[true_code] * size + slot[pred_code], minlength=size * size)
    matrix = cells.reshape(size, size)
    names = [labels[i] for i in kept.tolist()]
    folded = [labels[i] for i in np.flatnonzero(slot == len(kept)).tolist()]
    if folded:
        names.append(f"(other {len(folded):,} labels)")
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    return {
        "confusion_matrix": {"labels": names, "matrix": matrix.tolist(), "folded": folded},
        "confusion_matrix_normalized": {"labels": names, "matrix": shares.tolist()},
    }


def _baselines(true_code: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """The floors: always answering the most common label, and guessing at the label shares."""
    counts = np.bincount(true_code, minlength=len(labels))
    shares = counts / len(true_code)
    return {
        "majority_label": labels[int(np.argmax(counts))],
        "majority_accuracy": float(shares.max()),
        "stratified_random_accuracy": float(np.sum(shares**2)),
    }


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, bins: int
) -> list[dict[str, Any]]:
    """Equal-width confidence bins: ``low``, ``high``, ``count``, mean ``confidence`` and
    ``accuracy`` (None for an empty bin). The points of a reliability diagram."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    confidence_sum = np.bincount(which, weights=confidence, minlength=bins)
    correct_sum = np.bincount(which, weights=correct, minlength=bins)
    return [
        {
            "low": float(edges[b]),
            "high": float(edges[b + 1]),
            "count": int(count[b]),
            "confidence": float(confidence_sum[b] / count[b]) if count[b] else None,
            "accuracy": float(correct_sum[b] / count[b]) if count[b] else None,
        }
        for b in range(bins)
    ]


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    """ECE: the mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    if len(confidence) == 0:
        return 0.0
    total = sum(
        b["count"] * abs(b["accuracy"] - b["confidence"])
        for b in reliability_bins(confidence, correct, bins)
        if b["count"]
    )
    return float(total / len(confidence))


def bootstrap_accuracy_ci(correct: np.ndarray, resamples: int, seed: int) -> list[float] | None:
    """Percentile bootstrap 95% interval of the mean of the 0/1 vector ``correct``.

    Resampling n rows with replacement from a 0/1 vector and counting the ones is a draw from
    Binomial(n, mean): drawing that count directly is the same bootstrap distribution, exactly,
    at a cost independent of n.
    """
    n = len(correct)
    if resamples == 0 or n == 0:
        return None
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, float(np.mean(correct)), size=resamples) / n
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]


def paired_bootstrap_ci(
    correct_a: np.ndarray, correct_b: np.ndarray, resamples: int, seed: int
) -> list[float] | None:
    """Paired percentile bootstrap 95% interval of ``mean(correct_a) - mean(correct_b)``.

    Rows are resampled as pairs. The difference depends only on how many resampled rows only A
    got right and how many only B did, so each resample is one multinomial draw of those counts
    (again the exact bootstrap distribution, at a cost independent of n).
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    n = len(a)
    if resamples == 0 or n == 0:
        return None
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    shares = np.array([only_a, only_b, n - only_a - only_b]) / n
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, shares, size=resamples)
    low, high = np.percentile((draws[:, 0] - draws[:, 1]) / n, [2.5, 97.5])
    return [float(low), float(high)]


def mcnemar(only_a: int, only_b: int) -> dict[str, Any]:
    """McNemar's test on the discordant pairs: rows only A got right, rows only B got right.

    ``p_value`` is the exact test (two-sided binomial test of ``only_a`` out of ``only_a +
    only_b`` at 1/2), valid at any size; ``statistic`` and ``chi2_p_value`` are the classic
    chi-square form with Edwards' continuity correction, ``(|b - c| - 1)^2 / (b + c)``, 1 df.
    """
    discordant = only_a + only_b
    if discordant == 0:
        return {"only_a": 0, "only_b": 0, "statistic": 0.0, "chi2_p_value": 1.0, "p_value": 1.0}
    statistic = max(abs(only_a - only_b) - 1, 0) ** 2 / discordant
    return {
        "only_a": int(only_a),
        "only_b": int(only_b),
        "statistic": float(statistic),
        "chi2_p_value": float(stats.chi2.sf(statistic, df=1)),
        "p_value": float(stats.binomtest(only_a, discordant, 0.5).pvalue),
    }


def proportion_ci(successes: int, n: int) -> list[float] | None:
    """Wilson 95% interval of a proportion (for accuracy within a slice); None when n is 0."""
    if n == 0:
        return None
    interval = stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


def _per_class_auc(
    truth: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """One-vs-rest ROC-AUC and PR-AUC (average precision) of each class the model knows."""
    result: dict[str, dict[str, float | None]] = {}
    names, codes = np.unique(truth, return_inverse=True)
    rows_of = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    members = dict(zip(names.tolist(), rows_of, strict=True)) if len(truth) else {}
    for j, label in enumerate(classes.tolist()):
        rows = members.get(label)
        if rows is None or len(rows) == len(truth):
            result[label] = {"roc_auc": None, "pr_auc": None}
            continue
        roc, ap = _ranking_scores(proba[:, j], rows)
        result[label] = {"roc_auc": roc, "pr_auc": ap}
    return result


def _ranking_scores(scores: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    """ROC-AUC and average precision of ``scores`` with ``rows`` the positives, as scikit-learn's
    ``roc_auc_score`` and ``average_precision_score`` compute them (ties included), from one
    sort instead of their input checks and curves: a few times faster, which counts when they
    run once per label.

    ROC-AUC is the Mann-Whitney statistic: the share of (positive, negative) pairs the scores
    order rightly, a tie counting half. Average precision is the mean over the positives of the
    precision of answering positive at that positive's score.
    """
    ordered = np.sort(scores)
    positive = np.sort(scores[rows])
    p, n = len(positive), len(scores)
    below = np.searchsorted(ordered, positive, side="left")  # rows with a lower score
    tied = np.searchsorted(ordered, positive, side="right") - below
    positive_below = np.searchsorted(positive, positive, side="left")
    positive_tied = np.searchsorted(positive, positive, side="right") - positive_below
    wins = np.sum(below - positive_below) + 0.5 * np.sum(tied - positive_tied)
    roc = float(wins / (p * (n - p)))
    precision = (p - positive_below) / (n - below)
    return roc, float(np.mean(precision))


def _roc_auc(
    truth: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    per_class: dict[str, dict[str, float | None]],
) -> float | None:
    """Binary: the ROC-AUC of the second class; more: the mean of the one-vs-rest ROC-AUCs
    (scikit-learn's ``multi_class="ovr"``), over the rows whose label the model knows."""
    known = np.isin(truth, classes)
    if len(np.unique(truth[known])) < 2:
        return None
    targets = _codes(truth[known], classes)
    if len(classes) == 2:
        return float(roc_auc_score(targets, proba[known, 1]))
    if len(np.unique(targets)) < len(classes):
        return None
    if not known.all():
        per_class = _per_class_auc(truth[known], proba[known], classes)
    values = [per_class[str(label)]["roc_auc"] for label in classes]
    return float(np.mean([v for v in values if v is not None]))


def _pr_auc(
    per_class: dict[str, dict[str, float | None]], truth: np.ndarray, classes: np.ndarray
) -> float | None:
    """Binary: the average precision of the second class; more: the macro mean over classes."""
    if len(classes) == 2:
        return per_class[str(classes[1])]["pr_auc"]
    values = [per_class[str(label)]["pr_auc"] for label in classes]
    if any(v is None for v in values) or not np.isin(truth, classes).all():
        return None
    return float(np.mean([v for v in values if v is not None]))


def _log_loss(truth: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float | None:
    """The mean of ``-log p(true label)``, each probability clipped to ``[eps, 1 - eps]`` as
    scikit-learn's ``log_loss`` does; None when a row's label is not one of ``classes``. Reads
    one probability per row, where ``log_loss`` builds a one-hot matrix of rows times labels."""
    if len(truth) == 0 or not np.isin(truth, classes).all():
        return None
    chosen = proba[np.arange(len(truth)), _codes(truth, classes)]
    eps = np.finfo(np.float64).eps
    return float(-np.mean(np.log(np.clip(chosen, eps, 1 - eps))))


def _codes(values: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """The index of each value in ``vocabulary`` (every value must be in it; any order)."""
    order = np.argsort(vocabulary, kind="stable")
    codes: np.ndarray = order[np.searchsorted(vocabulary[order], values)]
    return codes
