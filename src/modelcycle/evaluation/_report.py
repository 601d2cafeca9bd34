"""``evaluate``: a model on labeled data, as ``metrics.json`` and ``evaluation.html``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._html import HtmlReport
from modelcycle._wording import plural
from modelcycle.config import EvalConfig
from modelcycle.data import Dataset
from modelcycle.evaluation import _analysis
from modelcycle.evaluation._labels import check_labels
from modelcycle.evaluation._metrics import compute_metrics, evaluation_metrics
from modelcycle.evaluation._plots import Scores
from modelcycle.evaluation._render import evaluation_html
from modelcycle.exceptions import SchemaError
from modelcycle.models import TextClassifier
from modelcycle.postprocess import Postprocess

__all__ = ["EvalReport", "evaluate", "evaluate_predictions"]

_RAW_KEYS = (
    "accuracy",
    "macro_f1",
    "weighted_f1",
    "per_class",
    "confusion_matrix",
    "log_loss",
    "ece",
    "calibration",
)


@dataclass(frozen=True, eq=False)
class EvalReport(HtmlReport):
    """The metrics of one model on one dataset, ready to write as JSON and HTML.

    ``scores`` (when the report was computed here rather than read back) holds the per-row
    probabilities the curves are drawn from.
    """

    json_file = "metrics.json"
    html_file = "evaluation.html"

    metrics: dict[str, Any]
    model: str
    data: str
    scores: Scores | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """``metrics.json``'s content: the metrics plus what was evaluated on what."""
        return {**self.metrics, "model": self.model, "data": self.data}

    def to_html(self) -> str:
        """A self-contained HTML page: headline and floors, classes, confusion, curves,
        calibration, threshold, error analysis."""
        return evaluation_html(self.metrics, self.scores, model=self.model, data=self.data)

    def summary(self, out: str | Path) -> str:
        """One line: accuracy and macro-F1 on how many rows, and the files written to ``out``."""
        m, out = self.metrics, Path(out)
        return (
            f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  on "
            f"{plural(m['n'], 'row')}; wrote {out / self.json_file} and {out / self.html_file}"
        )


def evaluate(
    model: TextClassifier,
    dataset: Dataset,
    config: EvalConfig | None = None,
    *,
    model_name: str = "model",
    data_name: str | None = None,
    seed: int = 0,
    postprocess: Postprocess | None = None,
    raw: bool = False,
) -> EvalReport:
    """Predict ``dataset`` with ``model`` and compare with its labels; the model is unchanged.

    The model's stored post-processing (``model.postprocess_``) is applied, as it is when the
    model predicts, and the raw figures are reported beside; ``postprocess`` replaces it for this
    report only (what calibrating would do; ``metrics["postprocess_stored"]`` is then False);
    ``raw=True`` ignores both. Data whose labels the model never saw is refused (see
    :func:`evaluate_predictions`).

    Example::

        report = evaluate(load_model("model/"), load_dataset("test.csv"))
        report.metrics["accuracy"]
    """
    config = config or EvalConfig()
    _analysis.check_slices(dataset, config.slices)
    if dataset.label is None:
        raise SchemaError("evaluation needs labels; choose the label column", path=dataset.source)
    classes = model.classes_.astype(str).tolist()
    check_labels(dataset, dataset.labels, classes)  # before the costly part
    proba = model.predict_proba(dataset.texts)
    return evaluate_predictions(
        dataset,
        proba,
        classes,
        config,
        postprocess=None if raw else (postprocess or model.postprocess_),
        postprocess_stored=postprocess is None,
        model_name=model_name,
        data_name=data_name,
        seed=seed,
    )


def evaluate_predictions(
    dataset: Dataset,
    proba: np.ndarray,
    classes: Sequence[str],
    config: EvalConfig | None = None,
    *,
    postprocess: Postprocess | None = None,
    postprocess_stored: bool = True,
    model_name: str = "model",
    data_name: str | None = None,
    seed: int = 0,
) -> EvalReport:
    """The report from probabilities already computed (``proba[:, j]`` is ``classes[j]``'s), for
    any predictor: a model, an exported ONNX graph, a quantized copy.

    ``postprocess`` (temperature, threshold) is applied to ``proba`` first; the headline figures
    are then those of the answers the model gives, and ``raw`` holds the figures without it.
    ``postprocess_stored`` says whether it is the one stored with the model (False: fitted for
    this report only); ``metrics.json`` and the page say which.

    Rows whose label the model does not know count as errors, and ``unknown_labels`` (rows per
    label) and ``warnings`` say so; when no row has a label the model knows, a
    :class:`~modelcycle.exceptions.DataError` names both label sets instead.
    """
    config = config or EvalConfig()
    _analysis.check_slices(dataset, config.slices)
    classes = [str(c) for c in classes]
    truth = dataset.labels
    labels = check_labels(dataset, truth, classes)
    raw_proba = np.asarray(proba, dtype=np.float64)
    active = postprocess is not None and not postprocess.is_identity
    if active:
        assert postprocess is not None
        predicted, final_proba = postprocess.apply(raw_proba, classes)
    else:
        final_proba = raw_proba
        predicted = np.asarray(classes)[np.argmax(raw_proba, axis=1)]
    metrics = evaluation_metrics(truth, final_proba, classes, predicted, config, seed)
    metrics["postprocess"] = postprocess.to_json() if active and postprocess else None
    metrics["postprocess_stored"] = postprocess_stored if active else None
    metrics["unknown_labels"] = labels.unknown
    metrics["warnings"] = labels.warnings
    if active:
        raw = compute_metrics(truth, raw_proba, classes, bootstrap=0, bins=config.calibration_bins)
        metrics["raw"] = {key: raw[key] for key in _RAW_KEYS}
    correct = predicted == truth
    metrics["examples"] = _analysis.examples(
        dataset.texts, truth, predicted, final_proba, classes, config.examples
    )
    metrics["by_length"] = _analysis.by_length(dataset, correct, config.length_buckets)
    metrics["slices"] = {
        column: _analysis.by_column(dataset, column, correct, config.length_buckets)
        for column in config.slices
    }
    return EvalReport(
        metrics=metrics,
        model=model_name,
        data=data_name or dataset.source,
        scores=Scores(truth=truth, proba=final_proba, raw_proba=raw_proba, classes=classes),
    )
