"""Variants of the transformer family: FP16 and INT8 of its (fused) FP32 graph, made by ONNX
Runtime's tools behind the guardrail."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelcycle.export import TransformerNet, quiet_onnx_tools
from modelcycle.quantization._guard import Built, Guard, Trials
from modelcycle.quantization._ort import (
    calibration_reader,
    fp16_storage,
    load_onnx,
    ort_quantize_transformer,
)
from modelcycle.quantization._timing import graph_ms

__all__ = ["transformer_variant"]


def transformer_variant(
    precision: str, net: TransformerNet, guard: Guard, calibration: list[str]
) -> Built:
    """FP16 or INT8 of a transformer's (fused) FP32 graph, made by ONNX Runtime's tools;
    ``calibration`` texts make INT8 static."""
    if precision == "fp16":
        return _fp16(guard)
    return _int8(net, guard, calibration)


def _fp16(guard: Guard) -> Built:
    """Float16 compute when clearly faster here, else float16 weights cast to fp32 at load."""
    fp32, base = guard.fp32, guard.source
    storage = fp16_storage(fp32.graph)
    texts = guard.texts[:100]
    storage_ms = graph_ms(guard.candidate(storage), texts)
    try:
        from onnxconverter_common.float16 import convert_float_to_float16

        with quiet_onnx_tools():
            compute = convert_float_to_float16(
                load_onnx(fp32.graph), keep_io_types=True
            ).SerializeToString()
            compute_ms = graph_ms(guard.candidate(compute), texts)
    except Exception:  # no float16 kernel here for a fused transformer op
        compute_ms = float("inf")
    if compute_ms < 0.9 * storage_ms:
        variant = replace(base, graph=compute, precision="fp16")
        how = f"fp16 compute; fp16 storage + fp32 compute {storage_ms / compute_ms:.1f}x slower"
        return Built("fp16", variant, "weights converted to fp16 (onnxconverter-common)", how)
    how = "fp16 weights, cast to fp32 once at load; fp32 compute"
    if compute_ms != float("inf"):
        how += f" (fp16 compute measured {compute_ms / storage_ms:.2f}x the time on this CPU)"
    return Built("fp16", replace(base, graph=storage, precision="fp16"), "weights in fp16", how)


def _int8(net: TransformerNet, guard: Guard, calibration: list[str]) -> Built:
    """INT8 behind the guardrail: static with ``calibration`` texts, else dynamic schemes in
    order (naive, per-channel, then the first and last encoder layers kept in FP32)."""
    static = bool(calibration)
    name = "int8-static" if static else "int8"
    reader = calibration_reader(guard.fp32, calibration) if static else None
    trials = Trials(guard)
    for method, scheme in _schemes(net, guard.fp32.graph, calibration):
        graph = ort_quantize_transformer(guard.fp32.graph, reader=reader, **scheme)
        if trials.attempt(method, graph):
            break
    graph, chosen, how = trials.keep()
    base = guard.source
    variant = replace(
        base, graph=graph, precision=name, details={**base.details, "quantization": chosen}
    )
    compute = (
        "dense layers in int8 with calibrated activation ranges (QDQ, run as QLinearMatMul); "
        "the layers after GELU, attention and embeddings in int8, activations quantized per call"
        if static
        else "MatMul, attention and embeddings in int8 (activations quantized per call)"
    )
    return Built(name, variant, how, compute, tuple(trials.attempts))


def _schemes(
    net: TransformerNet, graph: bytes, calibration: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """The INT8 schemes to try, in order: how each is described and ONNX Runtime's options."""
    nodes = [n.name for n in load_onnx(graph).graph.node]
    last = int(net.config.get("num_hidden_layers", 1)) - 1

    def layers(*numbers: int) -> list[str]:
        """The nodes of encoder layers ``numbers`` (traced names, and fused attention's)."""
        marks = [f"layer.{k}/" for k in numbers] + [f"Attention_{k}" for k in numbers]
        return [n for n in nodes if any(n.endswith(m) or m in n for m in marks)]

    if calibration:
        head = [n for n in nodes if "/head/" in n]
        return [
            (
                "static INT8 (QDQ) of the dense layers, activation ranges calibrated (min-max) "
                f"on {len(calibration)} texts, per-channel weights; the layers after GELU, "
                "attention and embeddings dynamic INT8; the head in FP32",
                {"per_channel": True, "exclude": head},
            )
        ]
    return [
        ("ONNX Runtime dynamic INT8, per tensor (naive)", {"per_channel": False}),
        ("dynamic INT8, per-channel weights", {"per_channel": True}),
        (
            f"dynamic INT8, per-channel weights, encoder layer {last} in FP32",
            {"per_channel": True, "exclude": layers(last)},
        ),
        (
            f"dynamic INT8, per-channel weights, encoder layers 0 and {last} in FP32",
            {"per_channel": True, "exclude": layers(0, last)},
        ),
    ]
