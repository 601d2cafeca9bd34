"""What happens between a model's probabilities and its answer: temperature, then threshold.

A model directory's ``model.json`` may hold, under ``"postprocess"``, a temperature fitted on
validation data (calibration) and, for two classes, a decision threshold tuned for a metric::

    "postprocess": {
        "temperature": 1.42,
        "threshold": {"label": "positive", "value": 0.37, "metric": "f1"},
        "fitted_on": {...}            # what it was fitted on; not used to predict
    }

Applying it is :func:`apply_postprocess` (or :meth:`Postprocess.apply`): probabilities →
calibrated probabilities ``softmax(log(p) / T)`` → the label, which is the threshold's label when
its calibrated probability is at least ``value`` and the other label otherwise (without a
threshold: the most probable label). Prediction, evaluation and the ONNX server all call this one
function, so the answer is the same everywhere. This module imports nothing but numpy, so that a
serving image can use it without the training stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Postprocess", "Threshold", "apply_postprocess", "scale_temperature"]

_KEYS = ("temperature", "threshold", "fitted_on")
_THRESHOLD_KEYS = ("label", "value", "metric")


@dataclass(frozen=True)
class Threshold:
    """Answer ``label`` when its (calibrated) probability is at least ``value``; two classes only.

    ``metric`` names what the value was tuned for (``f1``, ``precision@recall=0.9``, ...).
    """

    label: str
    value: float
    metric: str = ""


@dataclass(frozen=True)
class Postprocess:
    """A temperature (1.0: none) and an optional threshold, as stored in ``model.json``."""

    temperature: float = 1.0
    threshold: Threshold | None = None
    fitted_on: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_identity(self) -> bool:
        """True when applying it changes nothing (no temperature, no threshold)."""
        return self.temperature == 1.0 and self.threshold is None

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        """The calibrated probabilities: ``softmax(log(proba) / temperature)`` per row."""
        return scale_temperature(proba, self.temperature)

    def apply(self, proba: np.ndarray, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, calibrated probabilities)`` for ``proba`` (columns in ``classes`` order)."""
        calibrated = self.calibrate(proba)
        names = np.asarray(classes, dtype=str)
        if self.threshold is None:
            return names[np.argmax(calibrated, axis=1)], calibrated
        chosen = _class_index(classes, self.threshold.label)
        if len(names) != 2:
            raise ValueError(f"a threshold needs exactly 2 classes, got {len(names)}")
        other = names[1 - chosen]
        labels = np.where(calibrated[:, chosen] >= self.threshold.value, names[chosen], other)
        return labels, calibrated

    def to_json(self) -> dict[str, Any]:
        """The ``"postprocess"`` entry of ``model.json``."""
        data: dict[str, Any] = {"temperature": self.temperature}
        if self.threshold is not None:
            data["threshold"] = {
                "label": self.threshold.label,
                "value": self.threshold.value,
                "metric": self.threshold.metric,
            }
        if self.fitted_on:
            data["fitted_on"] = dict(self.fitted_on)
        return data

    @classmethod
    def from_json(cls, data: Any, classes: Sequence[str]) -> Postprocess:
        """Read and check a ``"postprocess"`` entry; a ValueError says what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"postprocess must be an object, got {type(data).__name__}")
        _check_keys("postprocess", data, _KEYS)
        temperature = data.get("temperature", 1.0)
        if (
            not isinstance(temperature, int | float)
            or isinstance(temperature, bool)
            or not 0 < temperature < float("inf")
        ):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        threshold = None
        raw = data.get("threshold")
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise ValueError(f"threshold must be an object, got {type(raw).__name__}")
            _check_keys("threshold", raw, _THRESHOLD_KEYS)
            label, value = raw.get("label"), raw.get("value")
            if len(classes) != 2:
                raise ValueError(f"a threshold needs exactly 2 classes, got {len(classes)}")
            _class_index(classes, label)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"threshold value must be a number in [0, 1], got {value!r}")
            threshold = Threshold(str(label), float(value), str(raw.get("metric", "")))
        fitted_on = data.get("fitted_on", {})
        if not isinstance(fitted_on, Mapping):
            raise ValueError("fitted_on must be an object")
        return cls(float(temperature), threshold, dict(fitted_on))


def apply_postprocess(
    proba: np.ndarray, classes: Sequence[str], spec: Mapping[str, Any] | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, calibrated probabilities)``: ``model.json``'s ``"postprocess"`` applied.

    Example::

        labels, scores = apply_postprocess(proba, ["negative", "positive"], meta.get("postprocess"))
    """
    return Postprocess.from_json(spec, classes).apply(proba, classes)


def scale_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(proba) / temperature)`` row by row; ``temperature=1`` returns ``proba``.

    ``log(proba)`` equals the model's logits up to a constant per row, which softmax ignores, so
    this is temperature scaling (Guo et al., 2017) without needing the logits. It never changes
    which class is the most probable.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, np.finfo(np.float64).tiny, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    result: np.ndarray = scaled / scaled.sum(axis=1, keepdims=True)
    return result


def _class_index(classes: Sequence[str], label: object) -> int:
    names = [str(c) for c in classes]
    if not isinstance(label, str) or label not in names:
        raise ValueError(f"threshold label {label!r} is not one of the model's labels: {names}")
    return names.index(label)


def _check_keys(where: str, data: Mapping[str, Any], valid: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in {where}; valid keys are: {list(valid)}")
