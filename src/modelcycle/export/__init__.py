"""ONNX export: every family's network as an ONNX graph, its preprocessing as data, a parity check.

The graph runs on :class:`modelcycle.runtime.OnnxClassifier` (what serving runs); the builders
below (networks, variants, graphs, the parity check) are what quantization makes its variants
with::

    from modelcycle.export import export_model
    from modelcycle.runtime import OnnxClassifier

    export_model(load_model("model/"), "model.onnx")        # + model.preprocessing.json
    OnnxClassifier.load("model.onnx").predict(["I loved it"])

    export_model(load_model("model/"), "text.onnx", text_input=True)   # + text.model_card.md
    labels, proba = run_text_graph(Path("text.onnx").read_bytes(), ["I loved it"])
"""

from modelcycle.export._card import card_path, check_text_parity, expected_outputs, run_text_graph
from modelcycle.export._export import (
    NETWORKS,
    PARITY_TOLERANCE,
    TEXT_GRAPH,
    ExportResult,
    Network,
    OnnxVariant,
    check_parity,
    export_model,
    fused_transformer,
    network_of,
    parity_texts,
    parity_words,
    variant_of,
)
from modelcycle.export._graph import BagNet, ProductCodes, build_graph
from modelcycle.export._transformer import TransformerNet, quiet_onnx_tools

__all__ = [
    "NETWORKS",
    "PARITY_TOLERANCE",
    "TEXT_GRAPH",
    "BagNet",
    "ExportResult",
    "Network",
    "OnnxVariant",
    "ProductCodes",
    "TransformerNet",
    "build_graph",
    "card_path",
    "check_parity",
    "check_text_parity",
    "expected_outputs",
    "export_model",
    "fused_transformer",
    "network_of",
    "parity_texts",
    "parity_words",
    "quiet_onnx_tools",
    "run_text_graph",
    "variant_of",
]
