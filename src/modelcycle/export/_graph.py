"""ONNX graphs of the bag-of-features families, built node by node with ``onnx.helper``.

Every family of today is one network, :class:`BagNet`: a bag of ids (weighted sum, or mean) over
a table, an optional block of engineered features, dense layers with ReLU between them, and
sigmoid or softmax. Written here rather than traced with ``torch.onnx.export`` because the linear
families have no PyTorch module, because the exporter turns ``EmbeddingBag`` into a slow ONNX
``Loop``, and because quantization needs to choose, per weight, how it is stored (a *codec*):
a few vectorised ops (Gather, ScatterND with ``reduction="add"``) are the whole model.

Inputs (the ``EmbeddingBag`` convention, shared with PyTorch)::

    indices  int64   [nnz]     column / id of each entry; text i owns indices[offsets[i]:]
                               up to the next text's offset
    offsets  int64   [n]       where each text's entries start
    weights  float32 [nnz]     the entry's value (TF-IDF, binary), n-gram families only
    extra    float32 [n, k]    standardised engineered features, fasttext with features only

Output: ``probabilities`` float32 [n, classes].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DENSE_CODECS",
    "OPSET",
    "OUTPUT",
    "TABLE_CODECS",
    "BagNet",
    "ProductCodes",
    "build_graph",
    "quantize_int8",
]

OPSET = 18
OUTPUT = "probabilities"
TABLE_CODECS = ("fp32", "fp16", "int8-tensor", "int8-channel", "int8-row", "pq")
"""How the table is stored: float32, float16, int8 with one scale for the tensor, per column
(channel) or per row, or product-quantised codes (FastText.zip)."""
DENSE_CODECS = ("fp32", "fp16")
"""How a dense layer's weight is stored here; INT8 dense layers are ONNX Runtime's to make (its
dynamic or static quantization rewrites the MatMul, see :mod:`modelcycle.quantization`)."""


@dataclass(frozen=True)
class ProductCodes:
    """A table as product-quantised codes: row r is the concatenation over sub-spaces m of
    ``codebooks[m, codes[r, m]]`` (Jégou et al. 2011; FastText.zip)."""

    codes: np.ndarray  # uint8 [rows, subspaces]
    codebooks: np.ndarray  # float32 [subspaces, 256, sub_dim]


@dataclass(frozen=True)
class BagNet:
    """A bag-of-features network as plain arrays.

    ``hidden = bag(table)`` (weighted sum or mean) ``+ bag_bias``, then ``extra`` is appended;
    each dense layer ``(W [in, out], b [out])`` follows, with a ReLU before it when
    ``relu_after_bag`` (first layer) or always (later layers). One output column means a
    sigmoid over two classes, more mean softmax.
    """

    table: np.ndarray
    mode: str  # "sum" or "mean"
    weighted: bool
    bag_bias: np.ndarray | None = None
    extra_width: int = 0
    dense: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    relu_after_bag: bool = False
    n_classes: int = 2
    pq: ProductCodes | None = field(default=None, compare=False)

    @property
    def layer_names(self) -> list[str]:
        """``table`` and ``dense0``, ``dense1``, ...: what quantization chooses a codec for."""
        return ["table", *(f"dense{i}" for i in range(len(self.dense)))]

    def input_names(self) -> list[str]:
        names = ["indices", "offsets"]
        if self.weighted:
            names.append("weights")
        if self.extra_width:
            names.append("extra")
        return names

    def weight_bytes(self) -> int:
        """The FP32 size of every weight (what quantization shrinks)."""
        arrays = [self.table, *(a for layer in self.dense for a in layer)]
        if self.bag_bias is not None:
            arrays.append(self.bag_bias)
        return sum(int(a.size) * 4 for a in arrays)


class _Builder:
    """Collects nodes and initializers; every helper returns the name of its output."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], stem: str | None = None, **attrs: Any) -> str:
        out = self.name(stem or op_type.lower())
        self.nodes.append(
            self.helper.make_node(op_type, list(inputs), [out], name=f"{out}_node", **attrs)
        )
        return out


def build_graph(
    net: BagNet, codecs: Mapping[str, str] | None = None, *, metadata: Mapping[str, str] = {}
) -> onnx.ModelProto:
    """The ONNX model of ``net`` with each layer stored by its codec (default ``fp32``)."""
    import onnx
    from onnx import TensorProto, helper

    codecs = dict(codecs or {})
    unknown = sorted(set(codecs) - set(net.layer_names))
    if unknown:
        raise ValueError(f"unknown layer {unknown[0]!r}; layers are {net.layer_names}")
    b = _Builder()
    indices, offsets = "indices", "offsets"
    rows = _segment_ids(b, indices, offsets)
    entries = _gather_table(b, net, codecs.get("table", "fp32"), indices)  # [nnz, width]
    if net.weighted:
        entries = b.op("Mul", [entries, b.op("Unsqueeze", ["weights", b.const("axis", _i64(1))])])
    hidden = _segment_sum(b, entries, rows, offsets, net.table.shape[1])
    if net.mode == "mean":
        hidden = b.op("Div", [hidden, _bag_sizes(b, rows, offsets)], "mean")
    if net.bag_bias is not None:
        hidden = b.op("Add", [hidden, b.const("bag_bias", net.bag_bias.astype(np.float32))])
    if net.extra_width:
        hidden = b.op("Concat", [hidden, "extra"], axis=1)
    for i, (weight, bias) in enumerate(net.dense):
        if i > 0 or net.relu_after_bag:
            hidden = b.op("Relu", [hidden])
        matrix = _dense_weight(b, weight, codecs.get(f"dense{i}", "fp32"), f"dense{i}")
        hidden = b.op("MatMul", [hidden, matrix], f"dense{i}_matmul")
        hidden = b.op("Add", [hidden, b.const(f"dense{i}_bias", bias.astype(np.float32))])
    width = net.dense[-1][0].shape[1] if net.dense else net.table.shape[1]
    if width == 1:
        positive = b.op("Sigmoid", [hidden])
        negative = b.op("Sub", [b.const("one", np.ones(1, np.float32)), positive])
        scores = b.op("Concat", [negative, positive], axis=1)
    else:
        scores = b.op("Softmax", [hidden], axis=1)
    b.nodes.append(helper.make_node("Identity", [scores], [OUTPUT], name="output"))
    inputs = [
        helper.make_tensor_value_info("indices", TensorProto.INT64, ["nnz"]),
        helper.make_tensor_value_info("offsets", TensorProto.INT64, ["n"]),
    ]
    if net.weighted:
        inputs.append(helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["nnz"]))
    if net.extra_width:
        inputs.append(
            helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["n", net.extra_width])
        )
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n", net.n_classes])
    graph = helper.make_graph(b.nodes, "modelcycle", inputs, [output], b.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="modelcycle"
    )
    model.ir_version = 9
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def _i64(*values: int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _segment_ids(b: _Builder, indices: str, offsets: str) -> str:
    """Which text each entry belongs to: count the texts starting at each position, cumsum."""
    nnz = b.op("Shape", [indices])
    slots = b.op("Add", [nnz, b.const("one", _i64(1))])
    starts = b.op("ConstantOfShape", [slots], value=_tensor(_i64(0)))
    ones = b.op("ConstantOfShape", [b.op("Shape", [offsets])], value=_tensor(_i64(1)))
    marks = b.op("ScatterElements", [starts, offsets, ones], axis=0, reduction="add")
    running = b.op("CumSum", [marks, b.const("axis", _i64(0))])
    counted = b.op("Slice", [running, b.const("zero", _i64(0)), nnz])
    return b.op("Sub", [counted, b.const("one", _i64(1))], "rows")


def _bag_sizes(b: _Builder, rows: str, offsets: str) -> str:
    """Entries per text as float [n, 1], at least 1 (an empty bag's mean is its zero sum);
    counted in float by a scatter, so that the graph holds no Cast for float16 tools to trip on."""
    ones = b.op(
        "ConstantOfShape",
        [b.op("Concat", [b.op("Shape", [rows]), b.const("one", _i64(1))], axis=0)],
        value=_tensor(np.ones(1, np.float32)),
    )
    sizes = _segment_sum(b, ones, rows, offsets, 1)
    return b.op("Max", [sizes, b.const("one", np.ones(1, np.float32))])


def _segment_sum(b: _Builder, entries: str, rows: str, offsets: str, width: int) -> str:
    """Sum the entries of each text into [n, width]."""
    shape = b.op("Concat", [b.op("Shape", [offsets]), b.const("width", _i64(width))], axis=0)
    zeros = b.op("ConstantOfShape", [shape], value=_tensor(np.zeros(1, np.float32)))
    where = b.op("Unsqueeze", [rows, b.const("axis", _i64(1))])
    return b.op("ScatterND", [zeros, where, entries], "bag", reduction="add")


def _gather_table(b: _Builder, net: BagNet, codec: str, indices: str) -> str:
    """The table rows of ``indices`` as float32 [nnz, width], decoded after the gather so that
    the table stays small in memory too."""
    table = net.table
    if codec == "fp32":
        return b.op("Gather", [b.const("table", table.astype(np.float32)), indices], "table_rows")
    if codec == "fp16":
        rows = b.op("Gather", [b.const("table_fp16", table.astype(np.float16)), indices])
        return b.op("Cast", [rows], "table_rows", to=1)
    if codec == "pq":
        if net.pq is None:
            raise ValueError("codec 'pq' needs product codes; see modelcycle.quantization")
        codes, books = net.pq.codes, net.pq.codebooks
        subspaces, centroids, sub_dim = books.shape
        picked = b.op("Cast", [b.op("Gather", [b.const("pq_codes", codes), indices])], to=7)
        base = b.const("pq_base", (np.arange(subspaces, dtype=np.int64) * centroids))
        flat = b.const("pq_codebooks", books.reshape(subspaces * centroids, sub_dim))
        parts = b.op("Gather", [flat, b.op("Add", [picked, base])])  # [nnz, subspaces, sub_dim]
        return b.op("Reshape", [parts, b.const("shape", _i64(-1, subspaces * sub_dim))])
    if codec in ("int8-tensor", "int8-channel", "int8-row"):
        axis = {"int8-tensor": None, "int8-channel": 0, "int8-row": 1}[codec]
        codes, scale = quantize_int8(table, axis, float16_scale=codec == "int8-row")
        rows = b.op("Cast", [b.op("Gather", [b.const("table_int8", codes), indices])], to=1)
        if codec == "int8-row":  # one scale per row, kept in float16: gathered with the row
            row_scale = b.op("Gather", [b.const("table_scale", scale.astype(np.float16)), indices])
            scale_name = b.op(
                "Unsqueeze", [b.op("Cast", [row_scale], to=1), b.const("axis", _i64(1))]
            )
        else:
            scale_name = b.const("table_scale", scale.astype(np.float32))
        return b.op("Mul", [rows, scale_name], "table_rows")
    raise ValueError(f"unknown table codec {codec!r}; valid codecs are: {', '.join(TABLE_CODECS)}")


def _dense_weight(b: _Builder, weight: np.ndarray, codec: str, stem: str) -> str:
    if codec == "fp32":
        return b.const(f"{stem}_weight", weight.astype(np.float32))
    if codec == "fp16":  # stored in float16; ONNX Runtime folds the cast once, at load
        return b.op("Cast", [b.const(f"{stem}_weight_fp16", weight.astype(np.float16))], to=1)
    raise ValueError(f"unknown dense codec {codec!r}; valid codecs are: {', '.join(DENSE_CODECS)}")


def quantize_int8(
    array: np.ndarray, reduce_axis: int | None, *, float16_scale: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 codes and scales of a 2-D array: one scale for all (``None``), per column
    (reduce over axis 0) or per row (reduce over axis 1). ``array ≈ codes * scale``; with
    ``float16_scale`` the scales are rounded to float16 before the codes are computed."""
    if reduce_axis is None:
        peak = np.abs(array).max(initial=0.0)
        scale = np.asarray(peak / 127.0 if peak > 0 else 1.0, dtype=np.float64)
        codes = np.clip(np.rint(array / scale), -127, 127).astype(np.int8)
        return codes, scale.reshape(())
    peak = np.abs(array).max(axis=reduce_axis, keepdims=True)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    if float16_scale:
        scale = scale.astype(np.float16).astype(np.float64)
    codes = np.clip(np.rint(array / scale), -127, 127).astype(np.int8)
    return codes, scale.reshape(-1)


def _tensor(array: np.ndarray) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(array.reshape(1))
