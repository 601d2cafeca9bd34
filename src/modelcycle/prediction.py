"""Prediction: labels and per-class scores for new texts, in memory or from file to file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import Dataset, write_table
from modelcycle.models import TextClassifier

__all__ = ["Predictions", "predict", "predict_dataset"]


@dataclass(frozen=True)
class Predictions:
    """Predicted labels and class probabilities; ``scores[:, j]`` belongs to ``classes[j]``."""

    labels: np.ndarray
    scores: np.ndarray
    classes: list[str]

    def records(self) -> list[dict[str, Any]]:
        """One ``{"label": ..., "scores": {class: probability}}`` per text."""
        return [
            {"label": str(label), "scores": dict(zip(self.classes, map(float, row), strict=True))}
            for label, row in zip(self.labels, self.scores, strict=True)
        ]

    def score_columns(self) -> dict[str, np.ndarray]:
        """``score_<class>`` columns for a table."""
        return {f"score_{name}": self.scores[:, j] for j, name in enumerate(self.classes)}


def predict(model: TextClassifier, texts: Sequence[str], *, raw: bool = False) -> Predictions:
    """Predict ``texts`` with ``model``.

    The model's stored post-processing (``model.postprocess_``: temperature, then threshold) is
    applied, so that the scores are calibrated probabilities and the labels are what the model
    answers everywhere else; ``raw=True`` ignores it.

    Example::

        predict(load_model("model/"), ["I loved it"]).records()
        # [{'label': 'positive', 'scores': {'negative': 0.08, 'positive': 0.92}}]
    """
    scores = model.predict_proba(texts)
    classes = model.classes_.tolist()
    if model.postprocess_ is not None and not raw:
        labels, scores = model.postprocess_.apply(scores, classes)
    else:
        labels = np.asarray(classes)[np.argmax(scores, axis=1)]
    return Predictions(labels=labels, scores=scores, classes=classes)


def predict_dataset(
    model: TextClassifier, dataset: Dataset, out: str | Path, *, raw: bool = False
) -> Path:
    """Predict every row of ``dataset`` and write text, true label (if any), prediction and scores.

    The format follows ``out``'s extension: .csv, .tsv, .jsonl or .parquet (optionally .gz).
    ``raw`` as in :func:`predict`.
    """
    predictions = predict(model, dataset.texts, raw=raw)
    columns: dict[str, Any] = {"text": dataset.frame.get_column(dataset.text)}
    if dataset.label is not None:
        columns["label"] = dataset.frame.get_column(dataset.label)
    columns["predicted"] = predictions.labels
    columns.update(predictions.score_columns())
    return write_table(pl.DataFrame(columns), out)
