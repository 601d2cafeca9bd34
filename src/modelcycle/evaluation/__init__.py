"""Evaluation: whether to trust a model, and where it fails.

- :func:`evaluate` / :func:`evaluate_predictions` → :class:`EvalReport` (``metrics.json``,
  ``evaluation.html``): accuracy with its bootstrap interval and floors, per-class metrics,
  ROC/PR, log loss, calibration, confusion matrix, error analysis and accuracy by slice.
- :func:`calibrate` / :func:`calibrate_model`: temperature scaling and a tuned binary threshold,
  fitted on validation data and stored with the model (:mod:`modelcycle.postprocess`).
- :func:`compare` → :class:`CompareReport`: two models on the same rows, paired bootstrap and
  McNemar's test, where they disagree.
"""

from modelcycle.evaluation._calibration import (
    THRESHOLD_METRICS,
    calibrate,
    calibrate_model,
    describe,
    fit_temperature,
    store_postprocess,
    threshold_table,
    tune_threshold,
)
from modelcycle.evaluation._compare import CompareReport, compare
from modelcycle.evaluation._metrics import (
    CONFUSION_LABELS,
    bootstrap_accuracy_ci,
    compute_metrics,
    expected_calibration_error,
    mcnemar,
    paired_bootstrap_ci,
    proportion_ci,
    reliability_bins,
)
from modelcycle.evaluation._report import EvalReport, evaluate, evaluate_predictions

__all__ = [
    "CONFUSION_LABELS",
    "THRESHOLD_METRICS",
    "CompareReport",
    "EvalReport",
    "bootstrap_accuracy_ci",
    "calibrate",
    "calibrate_model",
    "compare",
    "compute_metrics",
    "describe",
    "evaluate",
    "evaluate_predictions",
    "expected_calibration_error",
    "fit_temperature",
    "mcnemar",
    "paired_bootstrap_ci",
    "proportion_ci",
    "reliability_bins",
    "store_postprocess",
    "threshold_table",
    "tune_threshold",
]
