"""Variants of the bag-of-features families (linear, mlp, fasttext): FP16, INT8 behind the
guardrail, and fasttext's pruned table and product quantisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from modelcycle.config import QuantizeConfig
from modelcycle.export import BagNet, build_graph, quiet_onnx_tools, variant_of
from modelcycle.models import ModelState, TextClassifier
from modelcycle.quantization._guard import Built, Guard, Trials
from modelcycle.quantization._ort import calibration_reader, ort_quantize
from modelcycle.quantization._pq import PQ_CENTROIDS, product_quantize, prune_rows
from modelcycle.quantization._timing import graph_ms

__all__ = ["bag_variant"]


def bag_variant(
    precision: str,
    model: TextClassifier,
    net: BagNet,
    state: ModelState,
    guard: Guard,
    config: QuantizeConfig,
    calibration: list[str],
) -> Built:
    """The ``precision`` variant of a bag-of-features model (fp16, int8, int8-static, pruned,
    pq); ``calibration`` texts feed int8-static."""
    if precision == "fp16":
        return _fp16(model, net, state, guard)
    if precision in ("int8", "int8-static"):
        return _int8(model, net, state, guard, calibration if precision == "int8-static" else [])
    return _pruned(precision, model, net, state, config)


def _pruned(
    precision: str, model: TextClassifier, net: BagNet, state: ModelState, config: QuantizeConfig
) -> Built:
    """fasttext's table pruned to ``prune_vocab`` rows and, for ``pq``, product-quantised."""
    assert config.prune_vocab is not None or precision == "pq"
    keep = config.prune_vocab if config.prune_vocab is not None else len(net.table)
    width = net.table.shape[1]
    kept = prune_rows(net.table, keep, net.dense[0][0][:width] if net.dense else None)
    pruned = replace(net, table=net.table[kept])
    mask = np.zeros(len(net.table), dtype=bool)
    mask[kept] = True
    tensors = {"kept_rows": np.packbits(mask)} if len(kept) < len(net.table) else {}
    what = f"{len(kept):,} of {len(net.table):,} rows kept (largest norms through the next layer)"
    if precision == "pruned":
        variant = variant_of(model, pruned, state, precision="pruned", tensors=tensors)
        return Built("pruned", variant, f"pruned: {what}", "fp32")
    codes = product_quantize(pruned.table, seed=config.seed)
    coded = replace(pruned, pq=codes)
    variant = variant_of(
        model, coded, state, codecs={"table": "pq"}, precision="pq", tensors=tensors
    )
    subspaces, _, sub_dim = codes.codebooks.shape
    return Built(
        "pq",
        variant,
        f"FastText.zip: {what if tensors else 'all rows kept'}, product quantisation "
        f"({subspaces} sub-spaces of {sub_dim} dims, {PQ_CENTROIDS} centroids each: 1 byte per "
        f"{sub_dim} dims)",
        "table decoded per gathered row, fp32 compute",
    )


def _fp16(model: TextClassifier, net: BagNet, state: ModelState, guard: Guard) -> Built:
    """Build float16 compute and float16 storage; keep the faster on this machine."""
    from onnxconverter_common.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    storage = variant_of(
        model, net, state, codecs=dict.fromkeys(net.layer_names, "fp16"), precision="fp16"
    )
    texts = guard.texts[:200]
    storage_ms = graph_ms(guard.candidate(storage.graph), texts)
    try:
        with quiet_onnx_tools():
            # ScatterND has no float16 kernel with reduction on the CPU: it stays float32
            compute = convert_float_to_float16(
                build_graph(net),
                keep_io_types=True,
                op_block_list=[*DEFAULT_OP_BLOCK_LIST, "ScatterND"],
            ).SerializeToString()
            compute_ms = graph_ms(guard.candidate(compute), texts)
    except Exception as exc:  # the converter or ONNX Runtime refusing the float16 graph
        how = f"fp16 weights, fp32 compute (fp16 compute does not run here: {exc})"
        return Built("fp16", storage, "weights stored in fp16", " ".join(how.split())[:300])
    if compute_ms < 0.9 * storage_ms:  # float16 compute only when clearly faster, not by noise
        variant = variant_of(model, net, state, precision="fp16", graph=compute)
        how = "fp16 compute (fp32 where no fp16 kernel); fp16 storage + fp32 compute was "
        how += f"{storage_ms / compute_ms:.1f}x slower here"
        return Built("fp16", variant, "weights converted to fp16 (onnxconverter-common)", how)
    how = "fp16 weights, fp32 compute (fp16 compute measured "
    how += f"{compute_ms / storage_ms:.2f}x the time on this CPU)"
    return Built("fp16", storage, "weights stored in fp16", how)


def _int8(
    model: TextClassifier,
    net: BagNet,
    state: ModelState,
    guard: Guard,
    calibration: list[str],
) -> Built:
    """INT8 behind the guardrail: naive → per-channel → per-row → sensitivity scan."""
    static = bool(calibration)
    name = "int8-static" if static else "int8"
    kind = "static" if static else "dynamic"
    reader = calibration_reader(guard.fp32, calibration) if static else None
    dense = [n for n in net.layer_names if n != "table"]

    def make(table: str, per_channel: bool, quantized: Sequence[str]) -> bytes:
        graph = build_graph(net, {"table": table})
        return ort_quantize(graph, quantized, per_channel, reader)

    trials = Trials(guard)
    naive = ort_quantize(build_graph(net), None, False, reader, gather=True)
    method = f"ONNX Runtime {kind} INT8, per tensor (naive)"
    ok = trials.attempt(method, naive, table="ort", dense=dense)
    schemes = [("int8-channel", "per channel")]
    if net.table.shape[1] > 1:
        schemes.append(("int8-row", "per row (fp16 scales)"))
    for table, label in schemes:
        if ok:
            break
        ok = trials.attempt(
            f"{kind} INT8, {label} table" + (", per-channel MatMul" if dense else ""),
            make(table, True, dense),
            table=table,
            dense=dense,
        )
    if not ok and dense:
        _sensitivity_scan(trials, make, dense, kind)
    graph, chosen, how = trials.keep()
    variant = variant_of(
        model,
        net,
        state,
        precision=name,
        graph=graph,
        details={"quantization": chosen},
    )
    compute = "int8 table rows decoded to fp32; MatMul in int8 " + (
        "with calibrated activation ranges" if static else "(activations quantized per batch)"
    )
    if not dense:
        compute = "int8 table rows decoded to fp32 after the gather, fp32 sums"
    return Built(name, variant, how, compute, tuple(trials.attempts))


def _sensitivity_scan(
    trials: Trials,
    make: Callable[[str, bool, Sequence[str]], bytes],
    dense: list[str],
    kind: str,
) -> None:
    """Quantize one dense layer at a time; keep the worst ones in FP32, one more per attempt,
    until the guardrail passes."""
    config = trials.guard.config
    best: dict[str, Any] = max(
        (a for a in trials.attempts[1:] if a["weight_ratio"] <= config.max_weight_ratio),
        key=lambda a: a["agreement"],
        default=trials.attempts[-1],
    )
    table = best.get("table", "int8-channel")
    table = "int8-channel" if table == "ort" else table
    alone = {layer: trials.guard.score(make("fp32", True, [layer]))[0] for layer in dense}
    order = sorted(dense, key=lambda layer: alone[layer])
    kept: list[str] = []
    for layer in order:
        kept.append(layer)
        quantized = [d for d in dense if d not in kept]
        if trials.attempt(
            f"{kind} INT8, {table} table, keeping {', '.join(kept)} in FP32 (sensitivity scan)",
            make(table, True, quantized),
            table=table,
            dense=quantized,
            sensitivity={k: round(v, 4) for k, v in alone.items()},
        ):
            break
