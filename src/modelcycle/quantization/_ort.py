"""The ONNX and ONNX Runtime calls of quantization: INT8 by ONNX Runtime's tools (dynamic, or
static with a calibration reader), float16 storage of a graph's weights, and weight sizes.

onnx and onnxruntime are imported where used (deferred: ``import modelcycle`` and the linear
path stay light)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle.exceptions import ExportError
from modelcycle.export import quiet_onnx_tools
from modelcycle.runtime import OnnxClassifier

__all__ = [
    "calibration_reader",
    "fp16_storage",
    "load_onnx",
    "ort_quantize",
    "ort_quantize_transformer",
    "weight_bytes",
]


def load_onnx(graph: bytes) -> Any:
    """``graph`` as an ONNX ModelProto."""
    import onnx

    return onnx.load_from_string(graph)


def weight_bytes(graph: bytes) -> int:
    """Bytes of every array stored in an ONNX graph (its weights and constants)."""
    from onnx import numpy_helper

    model = load_onnx(graph)
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def fp16_storage(graph: bytes) -> bytes:
    """``graph`` with every float32 weight of 256 values or more stored in float16 and cast
    back to float32 by a Cast node (which ONNX Runtime folds once, when it loads the graph)."""
    from onnx import TensorProto, helper, numpy_helper

    model = load_onnx(graph)
    casts = []
    for tensor in model.graph.initializer:
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < 256:
            continue
        name = tensor.name
        values = numpy_helper.to_array(tensor).astype(np.float16)
        tensor.CopyFrom(numpy_helper.from_array(values, f"{name}_fp16"))
        casts.append(helper.make_node("Cast", [f"{name}_fp16"], [name], to=TensorProto.FLOAT))
    nodes = [*casts, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return bytes(model.SerializeToString())


def ort_quantize_transformer(
    graph: bytes, *, per_channel: bool, exclude: Sequence[str] = (), reader: Any = None
) -> bytes:
    """ONNX Runtime's INT8 quantization of a transformer graph; ``exclude`` names nodes kept in
    FP32. Dynamic when ``reader`` is None. With ``reader``'s calibration inputs, the dense layers
    (MatMul) are static QDQ, which ONNX Runtime runs as QLinearMatMul, except those that read
    GELU's output; those and the fused attention and embeddings are dynamic.

    Why dynamic there (a frozen MiniLM on SST-2): ONNX Runtime has no static kernel for the fused
    ops, and QDQ around them dequantizes their weights on every call (0.72x FP32's speed against
    1.56x); GELU's outputs have a long tail, which one calibrated range fits worst (agreement with
    FP32 97.1% when they are static, 98.9% when per call)."""
    from onnx import TensorProto

    # fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference
    untyped = {"DefaultTensorType": TensorProto.FLOAT}
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "fp32.onnx"  # from a file, ONNX Runtime infers shapes first
        if reader is None:
            source.write_bytes(graph)
            return _ort_int8(
                source,
                None,
                per_channel=per_channel,
                nodes_to_exclude=list(exclude),
                extra_options=untyped,
            )
        typed = _typed(graph, scratch)
        made_by = {out: node.op_type for node in typed.graph.node for out in node.output}
        per_call = [
            node.name
            for node in typed.graph.node
            if node.name not in exclude
            and (
                node.op_type in ("Attention", "EmbedLayerNormalization")
                or (node.op_type == "MatMul" and "Gelu" in made_by.get(node.input[0], ""))
            )
        ]
        source.write_bytes(typed.SerializeToString())
        dense = _ort_int8(
            source,
            reader,
            per_channel=per_channel,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=[*exclude, *per_call],
            extra_options=untyped,
        )
        source.write_bytes(dense)
        return _ort_int8(
            source, None, per_channel=per_channel, nodes_to_quantize=per_call, extra_options=untyped
        )


def _typed(graph: bytes, scratch: str) -> Any:
    """``graph`` with the typed outputs of its contrib ops, without which calibration skips every
    activation and "static" INT8 would quantize the weights alone. (Where it fails, ONNX Runtime
    saves the graph to the working directory: the ``scratch`` one.)"""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        with contextlib.chdir(scratch):
            return SymbolicShapeInference.infer_shapes(load_onnx(graph), auto_merge=True)
    except Exception as error:
        raise ExportError(
            "int8-static: ONNX Runtime's symbolic shape inference cannot type this graph "
            f"({error}); quantize it without int8-static"
        ) from error


def ort_quantize(
    graph: Any,
    dense: Sequence[str] | None,
    per_channel: bool,
    reader: Any,
    *,
    gather: bool = False,
) -> bytes:
    """ONNX Runtime's quantization of ``graph``: dynamic, or static with ``reader``'s
    calibration inputs. ``dense`` names the dense layers to quantize (None: every supported
    node, ONNX Runtime's default); ``gather`` also quantizes the table's Gather."""
    nodes = None
    if dense is not None:
        nodes = [n.name for n in graph.graph.node if n.name.split("_matmul_")[0] in dense]
        if not nodes and not gather:
            return bytes(graph.SerializeToString())
    ops = None if gather else ["MatMul"]
    return _ort_int8(
        graph, reader, per_channel=per_channel, op_types_to_quantize=ops, nodes_to_quantize=nodes
    )


def _ort_int8(model: Any, reader: Any, *, per_channel: bool, **select: Any) -> bytes:
    """ONNX Runtime's INT8 of ``model`` (a ModelProto, or a file): dynamic when ``reader`` is
    None, else static QDQ calibrated on ``reader``'s inputs (uint8 activations); int8 weights.
    ``select`` is ONNX Runtime's choice of nodes (``op_types_to_quantize``, ``nodes_to_quantize``,
    ``nodes_to_exclude``) and its ``extra_options``."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    with tempfile.TemporaryDirectory() as scratch, quiet_onnx_tools():
        out = Path(scratch) / "int8.onnx"
        if reader is None:
            quantize_dynamic(
                model, out, per_channel=per_channel, weight_type=QuantType.QInt8, **select
            )
        else:
            reader.rewind()
            quantize_static(
                model,
                out,
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                **select,
            )
        return out.read_bytes()


def calibration_reader(classifier: OnnxClassifier, texts: list[str]) -> Any:
    """An ONNX Runtime calibration reader over ``texts`` in batches of 32."""
    from onnxruntime.quantization import CalibrationDataReader

    batches = [classifier.inputs(texts[i : i + 32]) for i in range(0, len(texts), 32)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.position = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.position >= len(batches):
                return None
            self.position += 1
            return batches[self.position - 1]

        def rewind(self) -> None:
            self.position = 0

    return Reader()
