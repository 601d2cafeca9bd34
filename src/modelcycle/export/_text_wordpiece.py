"""The transformer's text front: its WordPiece tokenizer in-graph with onnxruntime-extensions.

The ``BertTokenizer`` operator (domain ``ai.onnx.contrib``) encodes one text as the backbone's
``tokenizer.json`` does (BERT normaliser, BERT pre-tokenizer, WordPiece, ``[CLS] … [SEP]``); a
``Loop`` runs it over the batch, truncates each text to ``max_length`` (keeping ``[SEP]``) and
pads it, and the batch is cut to its longest text (dynamic padding, as
:class:`modelcycle.tokenizer.SubwordTokenizer` pads)::

    text [n] ─Loop(BertTokenizer, truncate, pad)─► input_ids, attention_mask [n, longest] ─► encoder

One known difference: where no vocabulary piece covers the rest of a word (a character that
the vocabulary lacks), the tokenizers library's WordPiece makes the whole word one ``[UNK]`` and
the operator keeps the pieces it matched before its ``[UNK]``. With MiniLM's vocabulary this
changes the first 128 tokens of 1 of IMDB's 25,000 test reviews and of none of SST-2 dev
(``python -m bench portable``); the export's parity check catches a model where it matters.

A session needs onnxruntime-extensions' library registered
(``options.register_custom_ops_library(onnxruntime_extensions.get_library_path())``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcycle.exceptions import ExportError
from modelcycle.export._graph import _Builder, _i64

__all__ = ["EXTENSIONS_DOMAIN", "wordpiece_inputs"]

EXTENSIONS_DOMAIN = "ai.onnx.contrib"


def _bert_settings(tokenizer: Mapping[str, Any]) -> dict[str, Any]:
    """The ``BertTokenizer`` attributes of a ``tokenizer.json``, or an ExportError naming the
    part that the operator cannot reproduce."""
    model = tokenizer.get("model") or {}
    normalizer = tokenizer.get("normalizer") or {}
    single = (tokenizer.get("post_processor") or {}).get("single", [])
    template = [next(iter(part.values()))["id"] for part in single]
    found = {
        "model": model.get("type"),
        "normalizer": normalizer.get("type"),
        "pre_tokenizer": (tokenizer.get("pre_tokenizer") or {}).get("type"),
        "template": template,
        "continuing_subword_prefix": model.get("continuing_subword_prefix"),
    }
    wanted = {
        "model": "WordPiece",
        "normalizer": "BertNormalizer",
        "pre_tokenizer": "BertPreTokenizer",
        "template": ["[CLS]", "A", "[SEP]"],
        "continuing_subword_prefix": "##",
    }
    differ = [key for key in wanted if found[key] != wanted[key]]
    if differ:
        raise ExportError(
            f"the backbone's tokenizer has {differ[0]} {found[differ[0]]!r}; a text-input graph "
            f"needs a BERT WordPiece tokenizer ({differ[0]} {wanted[differ[0]]!r})"
        )
    vocab = model["vocab"]
    lowercase = bool(normalizer.get("lowercase", True))
    strip = normalizer.get("strip_accents")
    return {
        "vocab_file": "\n".join(sorted(vocab, key=vocab.__getitem__)),
        "do_lower_case": int(lowercase),
        "strip_accents": int(lowercase if strip is None else strip),
        "tokenize_chinese_chars": int(normalizer.get("handle_chinese_chars", True)),
        "unk_token": model.get("unk_token", "[UNK]"),
        "suffix_indicator": "##",
    }


def wordpiece_inputs(
    b: _Builder,
    text: str,
    tokenizer: Mapping[str, Any],
    preprocessing: Mapping[str, Any],
    outputs: tuple[str, str],
) -> None:
    """Nodes from ``text`` [n] to ``outputs`` (``input_ids``, ``attention_mask``) [n, longest]."""
    from onnx import TensorProto, helper

    settings = _bert_settings(tokenizer)
    limit = int(preprocessing["max_length"])
    pad = int(preprocessing["pad_id"])
    # the loop's body is built by ``b`` too (names stay unique in the model), then moved out
    body, first_node, first_const = b, len(b.nodes), len(b.initializers)
    one_text = body.op("Unsqueeze", [body.op("Gather", [text, "i"]), body.const("axis", _i64(0))])
    ids = body.name("ids")
    body.nodes.append(
        helper.make_node(
            "BertTokenizer",
            [one_text],
            [ids, body.name("types"), body.name("mask")],
            domain=EXTENSIONS_DOMAIN,
            **settings,
        )
    )
    length = body.op("Shape", [ids])
    kept = body.op("Min", [length, body.const("limit", _i64(limit))])
    head = body.op(
        "Slice",
        [ids, body.const("zero", _i64(0)), body.op("Sub", [kept, body.const("one", _i64(1))])],
    )
    last = body.op("Slice", [ids, body.const("minus", _i64(-1)), body.const("big", _i64(1 << 62))])
    ids = body.op("Concat", [head, last], axis=0)  # [CLS] + tokens kept + [SEP]
    missing = body.op("Sub", [body.const("limit", _i64(limit)), kept])
    pads = body.op("Concat", [body.const("zero", _i64(0)), missing], axis=0)
    padded = body.op("Pad", [ids, pads, body.const("pad", np.asarray(pad, dtype=np.int64))])
    ones = body.op(
        "ConstantOfShape", [kept], value=helper.make_tensor("one", TensorProto.INT64, [1], [1])
    )
    mask = body.op("Pad", [ones, pads, body.const("zero", np.asarray(0, dtype=np.int64))])
    body.nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
    nodes, constants = b.nodes[first_node:], b.initializers[first_const:]
    del b.nodes[first_node:], b.initializers[first_const:]
    graph = helper.make_graph(
        nodes,
        "tokenize_one",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info(padded, TensorProto.INT64, [limit]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, [limit]),
        ],
        constants,
    )
    n = b.op("Squeeze", [b.op("Shape", [text]), b.const("axis", _i64(0))])
    all_ids, all_mask = b.name("loop_ids"), b.name("loop_mask")
    b.nodes.append(
        helper.make_node("Loop", [n, ""], [all_ids, all_mask], name="tokenize", body=graph)
    )
    # dynamic padding: cut the batch to its longest text
    longest = b.op(
        "ReduceMax",
        [b.op("ReduceSum", [all_mask, b.const("axis", _i64(1))], keepdims=0)],
        keepdims=1,
    )
    for name, out in zip((all_ids, all_mask), outputs, strict=True):
        cut = b.op("Slice", [name, b.const("zero", _i64(0)), longest, b.const("axis", _i64(1))])
        b.nodes.append(helper.make_node("Identity", [cut], [out], name=out))
