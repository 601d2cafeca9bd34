"""The ``onnx`` family: an exported or quantized model directory, loaded like any other model.

``load_model`` returns it for directories written by ``modelcycle export`` and ``modelcycle
quantize``, so that ``evaluate``, ``predict`` and ``select`` accept every variant. Prediction is
delegated to :class:`modelcycle.runtime.OnnxClassifier`, the same code that serving runs. It is
made from a trained model, never trained itself.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from sklearn.utils._param_validation import StrOptions

from modelcycle.exceptions import ConfigError
from modelcycle.models._base import ModelState, TextClassifier
from modelcycle.runtime import OnnxClassifier, vocabulary_words

ONNX_FILE = "model.onnx"


class OnnxModel(TextClassifier):
    """An ONNX variant of a trained model (``precision`` fp32, fp16, int8, ...)."""

    family = "onnx"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "precision": [str],
        "source_family": [
            StrOptions({"logreg", "svm", "nb", "fasttext", "mlp", "transformer"}),
            None,
        ],
    }

    def __init__(self, *, precision: str = "fp32", source_family: str | None = None) -> None:
        self.precision = precision
        self.source_family = source_family

    def _fit(self, texts: list[str], targets: np.ndarray, val: Any, run: Any) -> None:
        raise ConfigError(
            "an ONNX variant is made from a trained model, not trained: train the source "
            f"family ({self.source_family or 'e.g. logreg'}) and run `modelcycle export` "
            "or `modelcycle quantize` on it"
        )

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.runtime_.predict_proba(texts)

    def get_state(self) -> ModelState:
        self._check_fitted()
        return self.state_

    @classmethod
    def from_state(cls, state: ModelState) -> Self:
        model = cls(**state.params)
        if ONNX_FILE not in state.files:
            raise ValueError(f"no {ONNX_FILE} in the model directory")
        model.runtime_ = OnnxClassifier(
            graph=state.files[ONNX_FILE],
            classes=state.classes,
            preprocessing=state.preprocessing,
            tensors=state.tensors,
            vocabulary=vocabulary_words(state.documents.get("vocabulary", "")),
            precision=model.precision,
            tokenizer=state.documents.get("tokenizer"),
        )
        model.classes_ = np.asarray(state.classes)
        model.state_ = state
        return model
