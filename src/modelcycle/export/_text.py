"""Text-input graphs: strings in, labels and probabilities out, in one ONNX graph.

A front of ONNX string operators computes the featurisation the model was trained with (the very
steps of :mod:`modelcycle.features`) and feeds the exported network (any variant: FP32, FP16,
INT8, pruned, PQ); a tail applies the model's stored post-processing. The graph then runs on any
ONNX Runtime (Python, C#, Java, JavaScript, Triton) with no modelcycle code::

    text ─StringNormalizer(lower)─Tokenizer(tag|token regex)─drop tags─LabelEncoder(word → id)─┐
      ┌─────────────────────────────────────────────────────────────────────────────────────┘
      └─n-gram keys (the same 61-bit hash, int64 arithmetic)─┬─ngrams: key → column, Unique
                                                             │  counts, (1 + ln tf) · idf, L2
                                                             └─hashed_bag: key % buckets + words
      ─► indices, offsets, weights ─► network ─► probabilities ─(temperature, threshold)─► label

Exact by construction: the token regex is modelcycle's own (RE2 reads the same Unicode classes),
a tag is matched as an alternative of the same regex and dropped (it never starts a token, so the
tokens found are those left after replacing tags by a space), unknown words keep their place and
break n-grams, and hashed n-grams land in the same bucket as in Python (every n-gram, also those
training never saw). Lower-casing is ``StringNormalizer`` in the ``C.UTF-8`` locale: simple
per-character case mapping, which differs from Python's ``str.lower`` only for 'İ' and a final
'Σ'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcycle.exceptions import ExportError
from modelcycle.export._graph import OUTPUT, _Builder, _i64, _tensor
from modelcycle.export._text_wordpiece import EXTENSIONS_DOMAIN, wordpiece_inputs
from modelcycle.features import TAG_PATTERN, TOKEN_PATTERN
from modelcycle.postprocess import Postprocess

if TYPE_CHECKING:
    import onnx

__all__ = ["LABEL", "TEXT", "TEXT_OPSET", "text_input_model"]

TEXT = "text"
LABEL = "label"
TEXT_OPSET = 20  # RegexFullMatch
LOCALE = "C.UTF-8"
PREFIX = "net/"
# modelcycle.features' n-gram hash, as int64 bit patterns (int64 arithmetic wraps as uint64's)
PRIME = int(np.uint64(0x9E3779B97F4A7C15).astype(np.int64))
MASK = (1 << 61) - 1
ORDER_SHIFT = 61


def text_input_model(
    graph: bytes,
    *,
    preprocessing: Mapping[str, Any],
    vocabulary: Sequence[str],
    tensors: Mapping[str, np.ndarray],
    classes: Sequence[str],
    postprocess: Mapping[str, Any] | None,
    tokenizer: Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] = {},
) -> onnx.ModelProto:
    """``graph`` (a network on featurised inputs) behind a string front and a post-processing
    tail: input ``text`` string [n], outputs ``label`` string [n] and ``probabilities``."""
    import onnx
    from onnx import TensorProto, compose, helper

    kind = preprocessing.get("kind")
    if preprocessing.get("features"):
        raise ExportError(
            f"the model uses engineered features {list(preprocessing['features'])}, which a "
            "text-input graph cannot compute; export it without --text-input, or train it "
            "without -p features=..."
        )
    net = compose.add_prefix(onnx.load_from_string(graph), PREFIX)
    opsets = {entry.domain: entry.version for entry in net.opset_import}
    b = _Builder()
    if kind == "tokenizer":
        if tokenizer is None:
            raise ExportError("a transformer's text-input graph needs its tokenizer.json")
        encoder = (PREFIX + "input_ids", PREFIX + "attention_mask")
        wordpiece_inputs(b, TEXT, tokenizer, preprocessing, encoder)
        opsets[EXTENSIONS_DOMAIN] = 1
    elif kind in ("ngrams", "hashed_bag"):
        ids = _word_ids(b, vocabulary)
        if kind == "ngrams":
            _ngram_inputs(b, ids, preprocessing, tensors)
        else:
            _bag_inputs(b, ids, preprocessing, tensors, len(vocabulary))
        opsets[""] = max(opsets.get("", 0), TEXT_OPSET)
        opsets["ai.onnx.ml"] = max(opsets.get("ai.onnx.ml", 0), 4)
        opsets["com.microsoft"] = max(opsets.get("com.microsoft", 0), 1)
    else:
        raise ExportError(f"no text-input graph for preprocessing {kind!r}")
    label = _postprocess(b, PREFIX + OUTPUT, classes, postprocess)
    nodes = [*b.nodes, *net.graph.node, *label]
    outputs = [
        helper.make_tensor_value_info(LABEL, TensorProto.STRING, ["n"]),
        helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n", len(classes)]),
    ]
    inputs = [helper.make_tensor_value_info(TEXT, TensorProto.STRING, ["n"])]
    merged = helper.make_graph(
        nodes, "modelcycle-text", inputs, outputs, [*b.initializers, *net.graph.initializer]
    )
    model = helper.make_model(
        merged,
        opset_imports=[helper.make_opsetid(domain, v) for domain, v in opsets.items()],
        producer_name="modelcycle",
    )
    model.ir_version = max(net.ir_version, 9)
    for key, value in {**metadata, "input": "text: 1-D tensor of strings"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def _strings(values: Sequence[str]) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(list(values), dtype=object))


def _multi(b: _Builder, op_type: str, inputs: Sequence[str], count: int, **attrs: Any) -> list[str]:
    """A node with ``count`` outputs (TopK, Unique); their names."""
    outs = [b.name(op_type.lower()) for _ in range(count)]
    b.nodes.append(b.helper.make_node(op_type, list(inputs), outs, name=f"{outs[0]}_node", **attrs))
    return outs


def _word_ids(b: _Builder, vocabulary: Sequence[str]) -> tuple[str, str]:
    """``(ids, length)``: word ids [n, T + 1] of each text's tokens in order, tags removed, -1
    for unknown words and after the last token (so at least one free slot), and the number of
    tokens of each text [n, 1]."""
    lower = b.op("StringNormalizer", [TEXT], case_change_action="LOWER", locale=LOCALE)
    tokens = b.op(
        "Tokenizer",
        [lower],
        domain="com.microsoft",
        tokenexp=f"{TAG_PATTERN}|{TOKEN_PATTERN}",
        mark=0,
        pad_value="",
        mincharnum=1,
    )
    drop = b.op("RegexFullMatch", [tokens], pattern="(?s)<.*|")  # a tag, or padding
    ids = b.op(
        "LabelEncoder",
        [tokens],
        domain="ai.onnx.ml",
        keys_tensor=_strings(vocabulary),
        values_tensor=_int64s(np.arange(len(vocabulary))),
        default_tensor=_int64s(np.asarray([-1])),
    )
    # compaction: sort each row's positions by (dropped, position), keys that are all distinct
    width = b.op("Shape", [ids], start=1, end=2)
    where = _positions(b, ids)
    dropped = b.op("Mul", [b.op("Cast", [drop], to=7), width])
    _, order = _multi(b, "TopK", [b.op("Add", [where, dropped]), width], 2, axis=1, largest=0)
    ids = b.op("GatherElements", [ids, order], axis=1)
    kept = b.op("Cast", [b.op("Not", [drop])], to=7)
    length = b.op("ReduceSum", [kept, b.const("axis", _i64(1))], keepdims=1)
    # the dropped tags go to the back; one may be a word ('</s>', fastText's end token)
    tokens = b.op("Less", [_positions(b, ids), length])
    ids = b.op("Where", [tokens, ids, b.const("none", _i64(-1))])
    n = b.op("Shape", [TEXT])
    free = b.op(
        "ConstantOfShape",
        [b.op("Concat", [n, b.const("one", _i64(1))], axis=0)],
        value=_tensor(np.asarray([-1], dtype=np.int64)),
    )
    ids = b.op("Concat", [ids, free], axis=1)
    return ids, length


def _scalar(b: _Builder, one: str) -> str:
    return b.op("Squeeze", [one, b.const("axis", _i64(0))])


def _int64s(values: np.ndarray) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=np.int64))


def _positions(b: _Builder, ids: str) -> str:
    """0, 1, ... over the token axis of ``ids`` [n, T]: int64 [T]."""
    width = b.op("Shape", [ids], start=1, end=2)
    return b.op(
        "Range",
        [
            b.const("zero", np.asarray(0, dtype=np.int64)),
            _scalar(b, width),
            b.const("one", np.asarray(1, dtype=np.int64)),
        ],
    )


def _ngram_keys(b: _Builder, ids: str, orders: Sequence[int]) -> tuple[str, str]:
    """``(keys, ok)`` [n, W]: the key of the n-gram of each order that starts at each position
    (:func:`modelcycle.features.ngram_keys`' hash, in int64 arithmetic that wraps as uint64
    does) and whether all its words are known. W = T x orders: the n-grams that start at each
    position, shortest first, as modelcycle lists them (so that sums add up in the same order
    and a float16 or INT8 network sees what it sees from modelcycle)."""
    known = b.op("GreaterOrEqual", [ids, b.const("zero", _i64(0))])
    one = b.const("one", _i64(1))
    keys, oks = [], []
    for n in orders:
        ok = b.op("Cast", [_window(b, known, 0, n)], to=7)
        if n == 1:
            keys.append(_window(b, ids, 0, n))
            oks.append(ok)
            continue
        key = b.op("Add", [_window(b, ids, 0, n), one])
        for offset in range(1, n):
            ok = b.op("Mul", [ok, b.op("Cast", [_window(b, known, offset, n)], to=7)])
            key = b.op("Mul", [key, b.const("prime", _i64(PRIME))])
            key = b.op("Add", [b.op("Add", [key, _window(b, ids, offset, n)]), one])
        key = b.op("BitwiseAnd", [key, b.const("mask", _i64(MASK))])
        keys.append(b.op("BitwiseOr", [key, b.const("order", _i64(n << ORDER_SHIFT))]))
        oks.append(ok)
    width = b.op("Shape", [ids], start=1, end=2)
    stacked = []
    for name in (keys, oks):
        full = [_pad_to(b, part, width) for part in name]  # each [n, T, 1]
        stacked.append(
            b.op("Reshape", [b.op("Concat", full, axis=2), b.const("rows", _i64(0, -1))])
        )
    return stacked[0], b.op("Cast", [stacked[1]], to=9)


def _pad_to(b: _Builder, part: str, width: str) -> str:
    """``part`` [n, w] padded with zeros to [n, ``width``, 1]."""
    missing = b.op("Sub", [width, b.op("Shape", [part], start=1, end=2)])
    pads = b.op("Concat", [b.const("zero", _i64(0)), missing], axis=0)
    padded = b.op(
        "Pad",
        [part, pads, b.const("fill", np.asarray(0, dtype=np.int64)), b.const("axis", _i64(1))],
    )
    return b.op("Unsqueeze", [padded, b.const("axis", _i64(2))])


def _window(b: _Builder, name: str, offset: int, n: int) -> str:
    """``name[:, offset : T - (n - 1 - offset)]`` [n, max(T - n + 1, 0)]: the ``offset``-th word
    of each n-gram (the end clipped at 0, where a negative end would count from the back)."""
    width = b.op("Shape", [name], start=1, end=2)
    end = b.op(
        "Max",
        [b.op("Sub", [width, b.const("back", _i64(n - 1 - offset))]), b.const("zero", _i64(0))],
    )
    return b.op("Slice", [name, b.const("start", _i64(offset)), end, b.const("axis", _i64(1))])


def _flat_entries(b: _Builder, keys: str, ok: str) -> tuple[str, str]:
    """``(keys, rows)`` [m] of the kept entries of ``keys`` [n, W], row by row."""
    n = b.op("Shape", [keys], start=0, end=1)
    rows = b.op(
        "Range",
        [
            b.const("zero", np.asarray(0, dtype=np.int64)),
            _scalar(b, n),
            b.const("one", np.asarray(1, dtype=np.int64)),
        ],
    )
    rows = b.op(
        "Expand", [b.op("Unsqueeze", [rows, b.const("axis", _i64(1))]), b.op("Shape", [keys])]
    )
    flat = b.const("flat", _i64(-1))
    kept = b.op("Reshape", [ok, flat])
    return (
        b.op("Compress", [b.op("Reshape", [keys, flat]), kept], axis=0),
        b.op("Compress", [b.op("Reshape", [rows, flat]), kept], axis=0),
    )


def _offsets(b: _Builder, rows: str) -> str:
    """Where each text's entries start, from the (sorted) row of each entry."""
    zeros = b.op(
        "ConstantOfShape", [b.op("Shape", [TEXT])], value=_tensor(np.asarray([0], dtype=np.int64))
    )
    ones = b.op(
        "ConstantOfShape", [b.op("Shape", [rows])], value=_tensor(np.asarray([1], dtype=np.int64))
    )
    counts = b.op("ScatterElements", [zeros, rows, ones], axis=0, reduction="add")
    return b.op("CumSum", [counts, b.const("axis", _i64(0))], exclusive=1)


def _ngram_inputs(
    b: _Builder,
    words: tuple[str, str],
    settings: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
) -> None:
    """The n-gram families' ``indices``, ``offsets``, ``weights``: CSR rows of the TF-IDF
    (or binary, count) matrix, as :meth:`NgramFeaturizer.transform_arrays` computes them."""
    ids, _ = words
    low, high = (int(v) for v in settings["ngram_range"])
    keys, ok = _ngram_keys(b, ids, range(max(low, 1), high + 1))
    keys, rows = _flat_entries(b, keys, ok)
    table = np.asarray(tensors["ngram_keys"], dtype=np.uint64).view(np.int64)
    n_columns = max(len(table), 1)
    column = b.op(
        "LabelEncoder",
        [keys],
        domain="ai.onnx.ml",
        keys_tensor=_int64s(table),
        values_tensor=_int64s(np.arange(len(table))),
        default_tensor=_int64s(np.asarray([-1])),
    )
    found = b.op("GreaterOrEqual", [column, b.const("zero", _i64(0))])
    column = b.op("Compress", [column, found], axis=0)
    rows = b.op("Compress", [rows, found], axis=0)
    width = b.const("columns", _i64(n_columns))
    cells = b.op("Add", [b.op("Mul", [rows, width]), column])
    # one id per (text, column): unique cells in order are the CSR non-zeros, counts the tf
    cells, _, _, counts = _multi(b, "Unique", [cells], 4, sorted=1)
    rows = b.op("Div", [cells, width])
    column = b.op("Mod", [cells, width])
    counts = b.op("Cast", [counts], to=11)
    weighting = settings["weighting"]
    if weighting == "binary":
        values = b.op("Div", [counts, counts])
    elif weighting == "count":
        values = counts
    else:
        values = counts
        if settings["sublinear_tf"]:
            values = b.op("Add", [b.op("Log", [counts]), b.const("one", np.ones(1))])
        idf = b.const("idf", np.asarray(tensors["idf"], dtype=np.float64))
        values = b.op("Mul", [values, b.op("Gather", [idf, column])])
        zeros = b.op("ConstantOfShape", [b.op("Shape", [TEXT])], value=_tensor(np.zeros(1)))
        squares = b.op("Mul", [values, values])
        norms = b.op(
            "Sqrt", [b.op("ScatterElements", [zeros, rows, squares], axis=0, reduction="add")]
        )
        empty = b.op("Equal", [norms, b.const("zero", np.zeros(1))])
        norms = b.op("Where", [empty, b.const("one", np.ones(1)), norms])
        values = b.op("Div", [values, b.op("Gather", [norms, rows])])
    b.nodes.append(b.helper.make_node("Identity", [column], [PREFIX + "indices"], name="indices"))
    b.nodes.append(
        b.helper.make_node("Identity", [_offsets(b, rows)], [PREFIX + "offsets"], name="offsets")
    )
    b.nodes.append(b.helper.make_node("Cast", [values], [PREFIX + "weights"], name="weights", to=1))


def _bag_inputs(
    b: _Builder,
    words: tuple[str, str],
    settings: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
    n_words: int,
) -> None:
    """fastText's bag: word ids, and each n-gram's key modulo ``buckets`` after the words, as
    :meth:`HashedBagFeaturizer.encode` computes them (then the pruned table's rows, if any)."""
    ids, length = words
    ngrams = int(settings["ngrams"])
    if ngrams > 3:  # the order's bits would reach the sign bit, and Mod is signed
        raise ExportError(f"a text-input graph supports ngrams up to 3, this model has {ngrams}")
    if settings.get("end_token"):
        at_end = b.op("Equal", [_positions(b, ids), length])
        ids = b.op("Where", [at_end, b.const("end", _i64(0)), ids])
    keys, ok = _ngram_keys(b, ids, range(1, ngrams + 1))
    keys, rows = _flat_entries(b, keys, ok)
    hashed = b.op("GreaterOrEqual", [keys, b.const("first", _i64(1 << 61))])
    bucket = b.op(
        "Add",
        [
            b.op("Mod", [keys, b.const("buckets", _i64(int(settings["buckets"])))]),
            b.const("words", _i64(n_words)),
        ],
    )
    keys = b.op("Where", [hashed, bucket, keys])
    if "kept_rows" in tensors:  # a pruned table: id → its row, or -1 when pruned
        size = n_words + int(settings["buckets"])
        kept = np.flatnonzero(np.unpackbits(tensors["kept_rows"])[:size])
        row_of = np.full(size, -1, dtype=np.int64)
        row_of[kept] = np.arange(len(kept))
        keys = b.op("Gather", [b.const("row_of", row_of), keys])
        found = b.op("GreaterOrEqual", [keys, b.const("zero", _i64(0))])
        keys = b.op("Compress", [keys, found], axis=0)
        rows = b.op("Compress", [rows, found], axis=0)
    b.nodes.append(b.helper.make_node("Identity", [keys], [PREFIX + "indices"], name="indices"))
    b.nodes.append(
        b.helper.make_node("Identity", [_offsets(b, rows)], [PREFIX + "offsets"], name="offsets")
    )


def _postprocess(
    b: _Builder, proba: str, classes: Sequence[str], postprocess: Mapping[str, Any] | None
) -> list[Any]:
    """Nodes from the network's probabilities to ``probabilities`` (calibrated by the stored
    temperature) and ``label`` (the stored threshold's rule, or the most probable class)."""
    rule = Postprocess.from_json(postprocess, list(classes))
    start = len(b.nodes)
    if rule.temperature != 1.0:
        tiny = b.const("tiny", np.asarray([np.finfo(np.float32).tiny], dtype=np.float32))
        logits = b.op("Log", [b.op("Max", [proba, tiny])])
        scaled = b.op(
            "Div", [logits, b.const("temperature", np.asarray([rule.temperature], np.float32))]
        )
        proba = b.op("Softmax", [scaled], axis=1)
    names = b.const("labels", np.asarray(list(classes), dtype=object))
    if rule.threshold is None:
        label = b.op("Gather", [names, b.op("ArgMax", [proba], axis=1, keepdims=0)])
    else:
        chosen = list(classes).index(rule.threshold.label)
        score = b.op(
            "Gather", [proba, b.const("chosen", np.asarray(chosen, dtype=np.int64))], axis=1
        )
        over = b.op(
            "GreaterOrEqual",
            [score, b.const("threshold", np.asarray(rule.threshold.value, dtype=np.float32))],
        )
        label = b.op(
            "Where",
            [
                over,
                b.const("yes", np.asarray(classes[chosen], dtype=object)),
                b.const("no", np.asarray(classes[1 - chosen], dtype=object)),
            ],
        )
    helper = b.helper
    tail = [*b.nodes[start:]]
    del b.nodes[start:]
    tail.append(helper.make_node("Identity", [label], [LABEL], name="label"))
    tail.append(helper.make_node("Identity", [proba], [OUTPUT], name="probabilities"))
    return tail
