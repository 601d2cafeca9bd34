"""Evaluation: how good a model is on labeled data, as ``metrics.json`` and ``evaluation.html``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from modelcycle import _html
from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle.config import EvalConfig
from modelcycle.data import Dataset
from modelcycle.models import TextClassifier

__all__ = ["EvalReport", "compute_metrics", "evaluate"]


@dataclass(frozen=True)
class EvalReport:
    """The metrics of one model on one dataset, ready to write as JSON and HTML."""

    metrics: dict[str, Any]
    model: str
    data: str

    def to_json(self) -> dict[str, Any]:
        """``metrics.json``'s content: the metrics plus what was evaluated on what."""
        return {**self.metrics, "model": self.model, "data": self.data}

    def to_html(self) -> str:
        """A self-contained HTML page with the headline figures, classes and confusion matrix."""
        return _render_html(self)

    def write(self, out_dir: str | Path) -> Path:
        """Write ``metrics.json`` and ``evaluation.html`` into ``out_dir`` atomically."""
        out_dir = Path(out_dir)
        with atomic_dir(out_dir, replace_if="metrics.json") as tmp:
            write_json(tmp / "metrics.json", self.to_json())
            write_text(tmp / "evaluation.html", self.to_html())
        return out_dir


def evaluate(
    model: TextClassifier,
    dataset: Dataset,
    config: EvalConfig | None = None,
    *,
    model_name: str = "model",
    data_name: str | None = None,
    seed: int = 0,
) -> EvalReport:
    """Predict ``dataset`` with ``model`` and compare with its labels.

    Example::

        report = evaluate(load_model("model/"), load_dataset("test.csv"))
        report.metrics["accuracy"]
    """
    config = config or EvalConfig()
    proba = model.predict_proba(dataset.texts)
    metrics = compute_metrics(
        dataset.labels,
        proba,
        model.classes_.tolist(),
        bootstrap=config.bootstrap,
        bins=config.calibration_bins,
        seed=seed,
    )
    return EvalReport(metrics=metrics, model=model_name, data=data_name or dataset.source)


def compute_metrics(
    y_true: Sequence[str] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    bootstrap: int = 1000,
    bins: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of ``metrics.json`` from true labels and predicted probabilities.

    ``proba[:, j]`` is the probability of ``classes[j]``. Labels the model never saw count as
    errors; metrics that cannot be defined on the data (ROC-AUC with one class) are ``None``.
    """
    truth = np.asarray(y_true).astype(str)
    classes_array = np.asarray(classes).astype(str)
    predicted = classes_array[np.argmax(proba, axis=1)]
    labels = sorted(set(classes_array.tolist()) | set(truth.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    correct = (predicted == truth).astype(np.float64)
    counts = np.unique(truth, return_counts=True)[1] / len(truth)
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, predicted)),
        "accuracy_ci95": _bootstrap_ci(correct, bootstrap, seed),
        "macro_f1": float(
            f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "weighted_f1": float(
            f1_score(truth, predicted, labels=labels, average="weighted", zero_division=0)
        ),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": {
            "labels": labels,
            "matrix": confusion_matrix(truth, predicted, labels=labels).tolist(),
        },
        "roc_auc": _roc_auc(truth, proba, classes_array),
        "log_loss": _log_loss(truth, proba, classes_array),
        "ece": expected_calibration_error(proba.max(axis=1), correct, bins),
        "baselines": {
            "majority_accuracy": float(counts.max()),
            "stratified_random_accuracy": float(np.sum(counts**2)),
        },
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    """ECE: the mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / len(confidence))


def _bootstrap_ci(correct: np.ndarray, resamples: int, seed: int) -> list[float] | None:
    """Percentile bootstrap 95% interval of the mean of ``correct``."""
    if resamples == 0 or len(correct) == 0:
        return None
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // len(correct))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        draws = rng.integers(0, len(correct), size=(stop - start, len(correct)))
        means[start:stop] = correct[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]


def _roc_auc(truth: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float | None:
    known = np.isin(truth, classes)
    if len(np.unique(truth[known])) < 2:
        return None
    index = {label: i for i, label in enumerate(classes.tolist())}
    targets = np.array([index[label] for label in truth[known].tolist()])
    if len(classes) == 2:
        return float(roc_auc_score(targets, proba[known, 1]))
    present = np.unique(targets)
    if len(present) < len(classes):
        return None
    return float(
        roc_auc_score(targets, proba[known], multi_class="ovr", labels=np.arange(len(classes)))
    )


def _log_loss(truth: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float | None:
    if not np.isin(truth, classes).all():
        return None
    return float(log_loss(truth, proba, labels=classes.tolist()))


def _render_html(report: EvalReport) -> str:
    m = report.metrics
    ci = m["accuracy_ci95"]
    ci_text = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "–"
    headline = _html.cards(
        [
            ("accuracy", _html.fmt(m["accuracy"])),
            ("95% interval (bootstrap)", ci_text),
            ("macro F1", _html.fmt(m["macro_f1"])),
            ("ROC-AUC", _html.fmt(m["roc_auc"])),
            ("majority-class baseline", _html.fmt(m["baselines"]["majority_accuracy"])),
            ("rows", f"{m['n']:,}"),
        ]
    )
    per_class = _html.table(
        ["label", "precision", "recall", "F1", "support"],
        [
            [
                label,
                _html.fmt(c["precision"]),
                _html.fmt(c["recall"]),
                _html.fmt(c["f1"]),
                c["support"],
            ]
            for label, c in m["per_class"].items()
        ],
        numeric=(1, 2, 3, 4),
    )
    body = (
        f"<h2>Headline</h2>{headline}"
        f'<p class="muted">Weighted F1 {_html.fmt(m["weighted_f1"])} · log loss '
        f"{_html.fmt(m['log_loss'])} · expected calibration error {_html.fmt(m['ece'])} · "
        f"stratified-random baseline {_html.fmt(m['baselines']['stratified_random_accuracy'])}</p>"
        f"<h2>Per class</h2>{per_class}"
        f'<h2>Confusion matrix</h2><p class="muted">Rows: true label; columns: predicted. '
        f"Shading: share of the row.</p>{_confusion_html(m['confusion_matrix'])}"
    )
    return _html.page(
        f"Evaluation of {report.model}", body, subtitle=f"on {report.data} ({m['n']:,} rows)"
    )


def _confusion_html(confusion: dict[str, Any]) -> str:
    labels, matrix = confusion["labels"], np.asarray(confusion["matrix"])
    row_sums = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    shares = matrix / row_sums
    head = "".join(f'<th class="num">{_html.esc(label)}</th>' for label in labels)
    rows = []
    for i, label in enumerate(labels):
        cells = "".join(
            f'<td class="num" style="background: rgba(9,105,218,{0.08 + 0.6 * shares[i, j]:.2f})">'
            f'{matrix[i, j]:,}<br><span class="muted">{shares[i, j]:.1%}</span></td>'
            for j in range(len(labels))
        )
        rows.append(f"<tr><th>{_html.esc(label)}</th>{cells}</tr>")
    header = f"<thead><tr><th>true \\ predicted</th>{head}</tr></thead>"
    return f"<table>{header}<tbody>{''.join(rows)}</tbody></table>"
