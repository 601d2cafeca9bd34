"""Fit a model by name on a training set and measure it on a validation set."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from modelcycle.config import TrainConfig
from modelcycle.data import Dataset
from modelcycle.models import TextClassifier, make_model, save_model


@dataclass(frozen=True)
class TrainResult:
    """A fitted model with what is known about how it was trained."""

    model: TextClassifier
    config: TrainConfig
    seconds: float
    rows: int
    val_metrics: dict[str, float] = field(default_factory=dict)

    def save(self, path: str | Path, *, source: str | None = None) -> Path:
        """Write the model directory, with the training config and validation metrics."""
        training: dict[str, Any] = {
            "model": self.config.model,
            "params": dict(self.config.params),
            "seed": self.config.seed,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
        }
        if source is not None:
            training["data"] = source
        return save_model(self.model, path, metrics=self.val_metrics, training=training)


def train(
    dataset: Dataset, config: TrainConfig | None = None, *, val: Dataset | None = None
) -> TrainResult:
    """Fit ``config.model`` on ``dataset``; score accuracy and macro-F1 on ``val`` if given.

    Example::

        result = train(load_dataset("train.csv"), TrainConfig(model="logreg"))
        result.save("model/")
    """
    config = config or TrainConfig()
    dataset.require_classes(2)
    model = make_model(config.model, config.params, seed=config.seed)
    start = time.perf_counter()
    model.fit(dataset.texts, dataset.labels)
    seconds = time.perf_counter() - start
    val_metrics: dict[str, float] = {}
    if val is not None:
        predicted = model.predict(val.texts)
        val_metrics = {
            "val_accuracy": float(accuracy_score(val.labels, predicted)),
            "val_macro_f1": float(f1_score(val.labels, predicted, average="macro")),
        }
    return TrainResult(model, config, seconds, len(dataset), val_metrics)
