"""ONNX export: every family's network as an ONNX graph, its preprocessing as data, a parity check.

``OnnxClassifier`` (the predictor that serving runs) imports only numpy, polars, safetensors and
onnxruntime; ``export_model`` and the rest need the training stack and are imported on first use::

    from modelcycle.export import OnnxClassifier, export_model

    export_model(load_model("model/"), "model.onnx")        # + model.preprocessing.json
    OnnxClassifier.load("model.onnx").predict(["I loved it"])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelcycle.export._runtime import OnnxClassifier

if TYPE_CHECKING:
    from modelcycle.export._export import (
        NETWORKS,
        PARITY_TOLERANCE,
        ExportResult,
        OnnxVariant,
        check_parity,
        export_model,
        network_of,
        parity_texts,
        variant_of,
    )

_LAZY = (
    "NETWORKS",
    "PARITY_TOLERANCE",
    "ExportResult",
    "OnnxVariant",
    "check_parity",
    "export_model",
    "network_of",
    "parity_texts",
    "variant_of",
)

__all__ = [
    "NETWORKS",
    "PARITY_TOLERANCE",
    "ExportResult",
    "OnnxClassifier",
    "OnnxVariant",
    "check_parity",
    "export_model",
    "network_of",
    "parity_texts",
    "variant_of",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("modelcycle.export._export"), name)
    raise AttributeError(f"module 'modelcycle.export' has no attribute {name!r}")
