"""Post-processing fitted on validation data: temperature scaling and a tuned binary threshold.

Both are stored in the model directory (``model.json``, ``"postprocess"``) and applied by
:mod:`modelcycle.postprocess` wherever the model predicts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from sklearn.metrics import roc_curve

from modelcycle.artifacts import update_model_meta
from modelcycle.data import Dataset
from modelcycle.evaluation._metrics import expected_calibration_error
from modelcycle.exceptions import ConfigError, DataError
from modelcycle.models import TextClassifier, load_model
from modelcycle.postprocess import Postprocess, Threshold, scale_temperature

__all__ = [
    "THRESHOLD_METRICS",
    "calibrate",
    "calibrate_model",
    "describe",
    "fit_temperature",
    "parse_threshold_metric",
    "store_postprocess",
    "threshold_table",
    "tune_threshold",
]

THRESHOLD_METRICS = ("f1", "accuracy", "precision@recall=X", "recall@precision=X")
"""What a threshold can be tuned for: F1 or accuracy; the highest precision with recall at
least X; the highest recall with precision at least X (X between 0 and 1)."""

_CONSTRAINED = re.compile(r"^(precision|recall)@(recall|precision)=([0-9]*\.?[0-9]+)$")
_TEMPERATURE_RANGE = (0.05, 20.0)


@dataclass(frozen=True)
class _Metric:
    """A parsed threshold metric: maximise ``goal`` subject to ``bound`` >= ``at_least``."""

    name: str
    goal: str
    bound: str | None = None
    at_least: float = 0.0


def parse_threshold_metric(text: str) -> _Metric:
    """Read ``f1``, ``accuracy``, ``precision@recall=0.9`` or ``recall@precision=0.9``."""
    name = text.strip().lower()
    if name in ("f1", "accuracy"):
        return _Metric(name, name)
    match = _CONSTRAINED.match(name)
    if match and match.group(1) != match.group(2) and 0 < float(match.group(3)) <= 1:
        return _Metric(name, match.group(1), match.group(2), float(match.group(3)))
    raise ConfigError(
        f"unknown threshold metric {text!r}; valid metrics are: {', '.join(THRESHOLD_METRICS)} "
        "(X between 0 and 1, e.g. precision@recall=0.9)"
    )


def fit_temperature(proba: np.ndarray, targets: np.ndarray) -> float:
    """The temperature T that minimises the log loss of ``softmax(log(proba) / T)``.

    ``targets[i]`` is the column of row i's true class. T > 1 softens over-confident
    probabilities, T < 1 sharpens timid ones; the most probable class never changes.
    """
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), np.finfo(np.float64).tiny, None))
    chosen = logits[np.arange(len(targets)), targets]

    def loss(log_t: float) -> float:
        t = math.exp(log_t)
        return float(np.mean(logsumexp(logits / t, axis=1) - chosen / t))

    low, high = (math.log(v) for v in _TEMPERATURE_RANGE)
    found = minimize_scalar(loss, bounds=(low, high), method="bounded", options={"xatol": 1e-5})
    best = float(found.x) if loss(float(found.x)) <= loss(0.0) else 0.0
    return round(math.exp(best), 6)


def threshold_table(scores: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
    """Every useful threshold of ``scores`` (answer positive when ``score >= threshold``) with
    its precision, recall, F1 and accuracy; thresholds in decreasing order."""
    positives = int(np.sum(positive))
    negatives = len(positive) - positives
    fpr, tpr, thresholds = roc_curve(positive, scores, drop_intermediate=False)
    keep = np.isfinite(thresholds)  # the first threshold answers positive for no row
    tp, fp = tpr[keep] * positives, fpr[keep] * negatives
    return {
        "threshold": thresholds[keep],
        "precision": tp / np.maximum(tp + fp, 1e-12),
        "recall": tp / max(positives, 1),
        "f1": 2 * tp / (2 * tp + fp + (positives - tp)),
        "accuracy": (tp + negatives - fp) / len(positive),
    }


def tune_threshold(scores: np.ndarray, positive: np.ndarray, metric: str) -> tuple[float, float]:
    """``(threshold, value of the metric there)``: the threshold of ``scores`` that is best for
    ``metric`` (see :data:`THRESHOLD_METRICS`) on these rows."""
    wanted = parse_threshold_metric(metric)
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        raise DataError("threshold tuning needs rows of both labels in the validation data")
    table = threshold_table(np.asarray(scores, dtype=np.float64), positive)
    goal = table[wanted.goal]
    feasible = np.ones(len(goal), dtype=bool)
    if wanted.bound is not None:
        feasible = table[wanted.bound] >= wanted.at_least - 1e-12
        if not feasible.any():
            best_bound = float(table[wanted.bound].max())
            raise DataError(
                f"no threshold reaches {wanted.bound} >= {wanted.at_least:g} on the validation "
                f"data (the highest is {best_bound:.4f}); ask for less"
            )
    best_goal = goal[feasible].max()
    ties = np.flatnonzero(feasible & (goal >= best_goal - 1e-12))
    # Among equally good thresholds, keep the one with the most of the other quantity.
    other = table["recall" if wanted.goal != "recall" else "precision"]
    best = int(ties[np.argmax(other[ties])])
    return float(table["threshold"][best]), float(goal[best])


def calibrate(
    model: TextClassifier,
    dataset: Dataset,
    *,
    temperature: bool = True,
    threshold: str | None = None,
    positive: str | None = None,
) -> Postprocess:
    """Fit post-processing for ``model`` on validation data ``dataset``; the model is unchanged.

    ``temperature``: fit temperature scaling; ``threshold``: tune the decision threshold of a
    two-class model for that metric (see :data:`THRESHOLD_METRICS`), on the probabilities of
    ``positive`` (default: the second label in sorted order) after temperature scaling.
    ``fitted_on`` records the data and each step's effect on it.
    """
    classes = model.classes_.astype(str).tolist()
    if threshold is not None:
        parse_threshold_metric(threshold)
        if len(classes) != 2:
            raise ConfigError(
                f"threshold tuning needs a model with 2 labels; this one has {len(classes)} "
                f"({', '.join(classes)})"
            )
    if positive is not None and positive not in classes:
        raise ConfigError(
            f"positive label {positive!r} is not one of the model's labels: {classes}"
        )
    truth = dataset.labels
    known = np.isin(truth, classes)
    if not known.any():
        raise DataError(
            f"none of the validation labels is one of the model's labels ({', '.join(classes)})",
            path=dataset.source,
            column=dataset.label,
        )
    texts = dataset.texts
    proba = model.predict_proba([t for t, keep in zip(texts, known, strict=True) if keep])
    targets = np.searchsorted(np.asarray(classes), truth[known])
    fitted_on: dict[str, Any] = {"data": dataset.source, "rows": int(known.sum())}
    t = fit_temperature(proba, targets) if temperature else 1.0
    calibrated = scale_temperature(proba, t)
    if temperature:
        fitted_on["log_loss"] = [_log_loss(proba, targets), _log_loss(calibrated, targets)]
        fitted_on["ece"] = [_ece(proba, targets), _ece(calibrated, targets)]
    tuned = None
    if threshold is not None:
        label = positive if positive is not None else classes[1]
        column = classes.index(label)
        is_positive = targets == column
        value, achieved = tune_threshold(calibrated[:, column], is_positive, threshold)
        wanted = parse_threshold_metric(threshold)
        at_default = _counts_metrics(np.argmax(calibrated, axis=1) == column, is_positive)
        tuned = Threshold(label=label, value=value, metric=wanted.name)
        fitted_on["threshold"] = {
            "metric": wanted.name,
            "argmax": round(at_default[wanted.goal], 6),
            "tuned": round(achieved, 6),
        }
    return Postprocess(temperature=t, threshold=tuned, fitted_on=fitted_on)


def calibrate_model(
    path: str | Path,
    dataset: Dataset,
    *,
    temperature: bool = True,
    threshold: str | None = None,
    positive: str | None = None,
) -> Postprocess:
    """:func:`calibrate` the model directory ``path`` and store the result in its
    ``model.json`` (replacing any earlier post-processing; with neither a temperature nor a
    threshold it is removed). The directory is rewritten atomically, manifest included.

    Example::

        calibrate_model("model/", load_dataset("val.csv"), threshold="f1")
    """
    model = load_model(path)
    fitted = calibrate(
        model, dataset, temperature=temperature, threshold=threshold, positive=positive
    )
    store_postprocess(path, fitted)
    return fitted


def store_postprocess(path: str | Path, postprocess: Postprocess) -> None:
    """Write ``postprocess`` into the model directory ``path`` (an identity one removes it)."""
    stored = None if postprocess.is_identity else postprocess.to_json()
    update_model_meta(path, {"postprocess": stored})


def describe(post: Postprocess) -> str:
    """One line: what the post-processing does and what it did on the validation data."""
    if post.is_identity:
        return "no post-processing (the model's own probabilities and most probable label)"
    parts = []
    fitted = post.fitted_on
    if post.temperature != 1.0 or "log_loss" in fitted:
        text = f"temperature {post.temperature:.3f}"
        if "log_loss" in fitted:
            (ll0, ll1), (e0, e1) = fitted["log_loss"], fitted["ece"]
            text += f" (validation log loss {ll0:.4f} → {ll1:.4f}, ECE {e0:.4f} → {e1:.4f})"
        parts.append(text)
    if post.threshold is not None:
        th = post.threshold
        text = f"answer {th.label!r} when its probability ≥ {th.value:.4f}"
        if "threshold" in fitted:
            info = fitted["threshold"]
            text += f" ({info['metric']} on validation {info['argmax']:.4f} → {info['tuned']:.4f})"
        parts.append(text)
    return "; ".join(parts)


def _counts_metrics(answer: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of the positive answers ``answer``."""
    tp = float(np.sum(answer & positive))
    fp = float(np.sum(answer & ~positive))
    fn = float(np.sum(~answer & positive))
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "accuracy": float(np.mean(answer == positive)),
    }


def _log_loss(proba: np.ndarray, targets: np.ndarray) -> float:
    chosen = np.clip(proba[np.arange(len(targets)), targets], 1e-15, None)
    return round(float(-np.mean(np.log(chosen))), 6)


def _ece(proba: np.ndarray, targets: np.ndarray) -> float:
    answer = np.argmax(proba, axis=1)
    confidence = proba[np.arange(len(targets)), answer]
    return round(expected_calibration_error(confidence, (answer == targets) * 1.0, 10), 6)
