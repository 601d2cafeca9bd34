"""Predictions in memory: labels and per-class scores for texts, and for a whole dataset.

A model's stored threshold (see :mod:`modelcycle.postprocess`) can make the answer differ from
the class with the top score; outputs then say so row by row, in a ``changed_by_threshold``
column (or record key), so that a reader never takes the difference for a bug.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import Dataset, write_table
from modelcycle.models import TextClassifier
from modelcycle.postprocess import Threshold

CHANGED_COLUMN = "changed_by_threshold"
"""Column (and record key) that is true where the stored threshold, not the top score, chose
the label; present only when a threshold was applied."""


@dataclass(frozen=True)
class Predictions:
    """Predicted labels and class probabilities; ``scores[:, j]`` belongs to ``classes[j]``.

    ``threshold`` is the stored threshold that chose the labels (None: the top score did).
    """

    labels: np.ndarray
    scores: np.ndarray
    classes: list[str]
    threshold: Threshold | None = None

    def changed_by_threshold(self) -> np.ndarray:
        """Per text: whether the label is not the class with the top score (all False without a
        threshold)."""
        return below_top_score(self.labels, self.scores, self.classes)

    def records(self) -> list[dict[str, Any]]:
        """One ``{"label": ..., "scores": {class: probability}}`` per text, plus
        ``"changed_by_threshold": bool`` when a threshold chose the labels."""
        records: list[dict[str, Any]] = [
            {"label": str(label), "scores": dict(zip(self.classes, map(float, row), strict=True))}
            for label, row in zip(self.labels, self.scores, strict=True)
        ]
        if self.threshold is not None:
            for record, changed in zip(records, self.changed_by_threshold(), strict=True):
                record[CHANGED_COLUMN] = bool(changed)
        return records

    def json_lines(self, texts: Sequence[str]) -> str:
        """One JSON object per text: the text and its :meth:`records` entry."""
        return "\n".join(
            json.dumps({"text": text, **record}, ensure_ascii=False)
            for text, record in zip(texts, self.records(), strict=True)
        )

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
    threshold = stored_threshold(model, raw)
    if model.postprocess_ is not None and not raw:
        labels, scores = model.postprocess_.apply(scores, classes)
    else:
        labels = np.asarray(classes)[np.argmax(scores, axis=1)]
    return Predictions(labels=labels, scores=scores, classes=classes, threshold=threshold)


def stored_threshold(model: TextClassifier, raw: bool) -> Threshold | None:
    """The stored threshold that :func:`predict` applies (None with ``raw`` or without one)."""
    return None if raw or model.postprocess_ is None else model.postprocess_.threshold


def below_top_score(labels: np.ndarray, scores: np.ndarray, classes: list[str]) -> np.ndarray:
    """Per row: whether the label's score is below the row's top score."""
    if not len(labels):
        return np.zeros(0, dtype=bool)
    position = {name: j for j, name in enumerate(classes)}
    chosen = np.array([position[str(label)] for label in labels])
    label_scores = scores[np.arange(len(labels)), chosen]
    below: np.ndarray = label_scores < scores.max(axis=1)
    return below


def predict_dataset(
    model: TextClassifier, dataset: Dataset, out: str | Path, *, raw: bool = False
) -> Path:
    """Predict every row of ``dataset`` and write text, true label (if any), prediction and scores.

    The format follows ``out``'s extension: .csv, .tsv, .jsonl or .parquet (optionally .gz).
    ``raw`` as in :func:`predict`; when a stored threshold chose the labels, a
    ``changed_by_threshold`` column marks the rows where it overrode the top score.
    """
    predictions = predict(model, dataset.texts, raw=raw)
    columns: dict[str, Any] = {"text": dataset.frame.get_column(dataset.text)}
    if dataset.label is not None:
        columns["label"] = dataset.frame.get_column(dataset.label)
    columns["predicted"] = predictions.labels
    columns.update(predictions.score_columns())
    if predictions.threshold is not None:
        columns[CHANGED_COLUMN] = predictions.changed_by_threshold()
    return write_table(pl.DataFrame(columns), out)
