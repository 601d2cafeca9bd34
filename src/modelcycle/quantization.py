"""Quantization: FP32 → FP16 → INT8 variants of a model, and the table that measures them.

The blog's table (precision, size, speed, accuracy) *measured* on the user's model and test set.
Every variant is an ONNX model directory (``load_model``, ``evaluate``, ``predict`` and serving
read it), and each row says how it was made and how it computes:

- ``fp32``: the exported graph (parity with the model checked to 1e-4).
- ``fp16``: weights in float16. ONNX Runtime's CPU kernels mostly compute float16 by converting,
  so both ways are built and timed — float16 compute (onnxconverter-common) and float16 storage
  with float32 compute — and float16 compute is kept only when at least 10% faster; the row says
  which and by how much.
- ``int8``: ONNX Runtime dynamic INT8 behind an automatic guardrail (below); ``int8-static``
  the same with static calibration on ``calibrate`` texts.
- ``pruned`` and ``pq`` (fasttext): keep the ``prune_vocab`` rows of largest norm (through the
  layer that reads them), then product quantisation of the embedding table (FastText.zip,
  Joulin et al. 2016).

The INT8 guardrail tries, in order, ONNX Runtime's naive per-tensor quantization, per-channel
scales (tables per column, MatMul weights per output channel), per-row scales for tables, and a
sensitivity scan that keeps the most sensitive layers in FP32; the first scheme whose predictions
agree with FP32 on ``min_agreement`` of a sample of texts (no labels used) with weights at most
``max_weight_ratio`` of FP32's is kept. Every attempt is recorded in ``quantization.json``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._hardware import cpu
from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle.artifacts import update_model_meta, write_manifest
from modelcycle.config import QuantizeConfig
from modelcycle.data import Dataset
from modelcycle.evaluation import evaluate
from modelcycle.exceptions import ConfigError, ExportError
from modelcycle.export import (
    BagNet,
    Network,
    OnnxVariant,
    ProductCodes,
    TransformerNet,
    build_graph,
    check_parity,
    fused_transformer,
    network_of,
    parity_texts,
    parity_words,
    quiet_onnx_tools,
    variant_of,
)
from modelcycle.models import ModelState, TextClassifier, load_model
from modelcycle.prediction import predict
from modelcycle.runtime import OnnxClassifier

__all__ = ["QuantizationTable", "product_quantize", "prune_rows", "quantize", "weight_bytes"]

TABLE_FILE = "quantization.json"
PQ_CENTROIDS = 256


@dataclass(frozen=True)
class Built:
    """A variant before it is measured: the model files, how it was made and computes."""

    name: str
    variant: OnnxVariant
    method: str
    compute: str
    attempts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class QuantizationTable:
    """One row per variant, the machine it was measured on, and the pick under a budget."""

    rows: list[dict[str, Any]]
    device: str
    threads: int
    batch_size: int
    n: int
    choice: dict[str, Any] | None
    guardrail: dict[str, Any]
    source: dict[str, Any]

    def row(self, precision: str) -> dict[str, Any]:
        """The row of ``precision``."""
        return next(r for r in self.rows if r["precision"] == precision)

    def to_json(self) -> dict[str, Any]:
        """``quantization.json``'s content."""
        return {
            "rows": self.rows,
            "device": self.device,
            "threads": self.threads,
            "batch_size": self.batch_size,
            "n": self.n,
            "choice": self.choice,
            "guardrail": self.guardrail,
            "source": self.source,
        }

    def to_markdown(self) -> str:
        """The table as Markdown, with how each variant computes and the choice."""
        head = (
            "| precision | size | vs FP32 | weights vs FP32 | model dir | p50 ms | p95 ms | "
            f"texts/s (batch {self.batch_size}) | speed-up | graph p50 ms | graph speed-up | "
            "accuracy | Δ points | agreement |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        )
        lines = [
            f"| {r['precision']} | {_size(r['size_bytes'])} | {r['size_ratio']:.1%} | "
            f"{r['weights_ratio']:.1%} | {_size(r['dir_size_bytes'])} | "
            f"{r['latency_ms_p50']:.3f} | "
            f"{r['latency_ms_p95']:.3f} | {r['throughput_per_s']:,.0f} | {r['speedup']:.2f}x | "
            f"{r['model_latency_ms_p50']:.4f} | {r['model_speedup']:.2f}x | {r['accuracy']:.4f} | "
            f"{100 * r['accuracy_delta']:+.2f} | {r['agreement']:.2%} |"
            for r in self.rows
        ]
        how = "\n".join(
            f"- **{r['precision']}**: {r['method']}; {r['compute']}." for r in self.rows
        )
        choice = f"\n**Choice:** {self.choice['reason']}\n" if self.choice is not None else "\n"
        return (
            f"# Quantization of {self.source['family']} on {self.source['data']}\n\n"
            f"{self.n:,} test texts; {self.device}; {self.threads} threads. Latency: one text, "
            "text to probabilities (graph p50: the ONNX graph alone); throughput: batches of "
            f"{self.batch_size}; size: model.onnx (model dir: every file of the variant).\n\n"
            + head
            + "\n".join(lines)
            + "\n\n"
            + how
            + "\n"
            + choice
            + f"\n{self.guardrail['summary']}\n\n![accuracy against size and speed]"
            "(quantization.png)\n"
        )

    def write(self, out_dir: Path) -> None:
        """``quantization.json``, ``quantization.md`` and ``quantization.png`` in ``out_dir``."""
        write_json(out_dir / TABLE_FILE, self.to_json())
        write_text(out_dir / "quantization.md", self.to_markdown())
        (out_dir / "quantization.png").write_bytes(_plot(self))


def quantize(
    model: TextClassifier,
    dataset: Dataset,
    out_dir: str | Path,
    config: QuantizeConfig | None = None,
    *,
    calibration: Sequence[str] | None = None,
    source: str = "model",
    progress: Callable[[str], None] | None = None,
) -> QuantizationTable:
    """Make every variant of ``config`` for ``model``, measure each on ``dataset`` and write
    them (one model directory per variant) with ``quantization.json``/``.md``/``.png`` into
    ``out_dir``, atomically.

    ``calibration`` texts drive the INT8 guardrail and static calibration (default: a seeded
    sample of ``dataset``'s texts; their labels are never used).

    Example::

        table = quantize(load_model("model/"), load_dataset("test.csv"), "quantized/")
        table.row("int8")["accuracy_delta"], table.row("int8")["size_ratio"]
    """
    config = config or QuantizeConfig()
    say = progress or (lambda message: None)
    precisions = _precisions(model.family, config)
    net, state = network_of(model)
    rng = np.random.default_rng(config.seed)
    pool = list(calibration) if calibration is not None else dataset.texts
    shuffled = [pool[i] for i in rng.permutation(len(pool))]
    guard_texts = shuffled[: config.guardrail_texts]

    say("fp32: export and parity check")
    fp32 = variant_of(model, net, state)
    sample = [*dataset.texts[:200], *parity_texts(parity_words(fp32))]
    diff = check_parity(model, fp32, sample)
    how = "exported graph"
    if isinstance(net, TransformerNet):
        fused = fused_transformer(model, fp32, net.config, sample)
        if fused is not None:
            (fp32, diff), how = (
                fused,
                "exported graph fused by ONNX Runtime's transformer optimizer",
            )
    built = [Built("fp32", fp32, f"{how} (parity with the model: {diff:.1e})", "fp32")]
    guard = _Guard(fp32.classifier(threads=config.threads), guard_texts, config, fp32)
    for precision in precisions[1:]:
        say(f"{precision}: building")
        built.append(
            _build(precision, model, net, state, guard, config, shuffled[: config.calibrate])
        )

    out_dir = Path(out_dir)
    with atomic_dir(out_dir, replace_if=TABLE_FILE) as tmp:
        classifiers: dict[str, Any] = {}
        accuracy: dict[str, float] = {}
        macro_f1: dict[str, float] = {}
        predictions: dict[str, np.ndarray] = {}
        for item in built:
            say(f"{item.name}: write and evaluate")
            item.variant.write_dir(tmp / item.name)
            loaded = load_model(tmp / item.name)
            report = evaluate(loaded, dataset, model_name=item.name, seed=config.seed)
            accuracy[item.name] = report.metrics["accuracy"]
            macro_f1[item.name] = report.metrics["macro_f1"]
            predictions[item.name] = predict(loaded, dataset.texts).labels  # as evaluate answers
            classifiers[item.name] = OnnxClassifier.load(tmp / item.name, threads=config.threads)
        say("timing: batch 1 and batch " + str(config.batch_size))
        timings = _time(classifiers, shuffled, dataset.texts, config)
        for item in built:  # each variant carries its own figures (GET /v1/model shows them)
            measured = {
                "accuracy": accuracy[item.name],
                "macro_f1": macro_f1[item.name],
                **timings[item.name],
                "n": len(dataset),
                "data": dataset.source,
            }
            update_model_meta(tmp / item.name, {"metrics": measured})
        rows = [
            _row(item, tmp, built[0], accuracy, predictions, timings, len(dataset))
            for item in built
        ]
        for row in rows:
            base = rows[0]
            row["speedup"] = round(base["latency_ms_p50"] / row["latency_ms_p50"], 3)
            row["model_speedup"] = round(
                base["model_latency_ms_p50"] / row["model_latency_ms_p50"], 3
            )
        table = QuantizationTable(
            rows=rows,
            device=_device(),
            threads=config.threads,
            batch_size=config.batch_size,
            n=len(dataset),
            choice=_choose(rows, config.max_accuracy_drop),
            guardrail=guard.summary(built),
            source={
                "model": source,
                "family": model.family,
                "data": dataset.source,
                "calibration": "given texts" if calibration is not None else dataset.source,
            },
        )
        table.write(tmp)
        write_manifest(tmp)
    return table


def _precisions(family: str, config: QuantizeConfig) -> list[str]:
    """The variants to make, fp32 first."""
    fasttext = family == "fasttext"
    if config.prune_vocab is not None and not fasttext:
        raise ConfigError(
            f"--prune-vocab applies to the fasttext family only; this model is {family!r}"
        )
    asked = list(config.precisions)
    if not asked:
        asked = ["fp16", "int8"]
        if config.calibrate:
            asked.append("int8-static")
        if fasttext and config.prune_vocab is not None:
            asked.append("pruned")
        if fasttext:
            asked.append("pq")
    for name in ("pruned", "pq"):
        if name in asked and not fasttext:
            raise ConfigError(f"precision {name!r} applies to the fasttext family only")
    if "pruned" in asked and config.prune_vocab is None:
        raise ConfigError("precision 'pruned' needs --prune-vocab K (the rows to keep)")
    if "int8-static" in asked and not config.calibrate:
        raise ConfigError("precision 'int8-static' needs --calibrate N (calibration texts)")
    return ["fp32", *dict.fromkeys(p for p in asked if p != "fp32")]


class _Guard:
    """Scores a candidate INT8 graph against FP32 on the guardrail texts."""

    def __init__(
        self, fp32: OnnxClassifier, texts: list[str], config: QuantizeConfig, source: OnnxVariant
    ) -> None:
        self.fp32 = fp32
        self.source = source
        self.texts = texts
        self.config = config
        self.reference = fp32.predict_proba(texts) if texts else np.zeros((0, 0))
        self.fp32_weights = weight_bytes(fp32.graph)
        self.records: dict[str, list[dict[str, Any]]] = {}

    def score(self, graph: bytes) -> tuple[float, float]:
        """``(agreement, max_abs_diff)`` of ``graph`` with FP32 on the texts."""
        if not self.texts:
            return 1.0, 0.0
        candidate = self.fp32.with_graph(graph, threads=1)
        proba = candidate.predict_proba(self.texts)
        same = np.argmax(proba, axis=1) == np.argmax(self.reference, axis=1)
        return float(same.mean()), float(np.abs(proba - self.reference).max())

    def attempt(self, method: str, graph: bytes, **info: Any) -> dict[str, Any]:
        agreement, diff = self.score(graph)
        ratio = weight_bytes(graph) / self.fp32_weights
        passed = agreement >= self.config.min_agreement and ratio <= self.config.max_weight_ratio
        return {
            "method": method,
            "agreement": round(agreement, 4),
            "max_abs_diff": round(diff, 6),
            "weight_ratio": round(ratio, 4),
            "passed": passed,
            **info,
        }

    def summary(self, built: list[Built]) -> dict[str, Any]:
        tried = {b.name: list(b.attempts) for b in built if b.attempts}
        lines = []
        for name, attempts in tried.items():
            kept = next((a for a in attempts if a.get("kept")), attempts[-1])
            steps = " → ".join(
                f"{a['method']} ({a['agreement']:.2%} agreement, {a['weight_ratio']:.0%} size)"
                for a in attempts
            )
            verdict = "met" if kept["passed"] else "MISSED"
            lines.append(f"{name}: {steps}; kept {kept['method']} (guardrail {verdict})")
        rule = (
            f"INT8 guardrail: agreement with FP32 >= {self.config.min_agreement:.0%} on "
            f"{len(self.texts)} texts (labels unused) and weights <= "
            f"{self.config.max_weight_ratio:.0%} of FP32's"
        )
        return {
            "min_agreement": self.config.min_agreement,
            "max_weight_ratio": self.config.max_weight_ratio,
            "texts": len(self.texts),
            "attempts": tried,
            "summary": rule + (". " + "; ".join(lines) if lines else ""),
        }


def _build(
    precision: str,
    model: TextClassifier,
    net: Network,
    state: ModelState,
    guard: _Guard,
    config: QuantizeConfig,
    calibration: list[str],
) -> Built:
    if isinstance(net, TransformerNet):
        static = calibration if precision == "int8-static" else []
        return _transformer_variant(precision, net, guard, static)
    if precision == "fp16":
        return _fp16(model, net, state, guard)
    if precision in ("int8", "int8-static"):
        return _int8(model, net, state, guard, calibration if precision == "int8-static" else [])
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


def _fp16(model: TextClassifier, net: BagNet, state: ModelState, guard: _Guard) -> Built:
    """Build float16 compute and float16 storage; keep the faster on this machine."""
    from onnxconverter_common.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    storage = variant_of(
        model, net, state, codecs=dict.fromkeys(net.layer_names, "fp16"), precision="fp16"
    )
    texts = guard.texts[:200]
    storage_ms = _graph_ms(guard.fp32.with_graph(storage.graph, threads=1), texts)
    try:
        with quiet_onnx_tools():
            # ScatterND has no float16 kernel with reduction on the CPU: it stays float32
            compute = convert_float_to_float16(
                build_graph(net),
                keep_io_types=True,
                op_block_list=[*DEFAULT_OP_BLOCK_LIST, "ScatterND"],
            ).SerializeToString()
            compute_ms = _graph_ms(guard.fp32.with_graph(compute, threads=1), texts)
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
    guard: _Guard,
    calibration: list[str],
) -> Built:
    """INT8 behind the guardrail: naive → per-channel → per-row → sensitivity scan."""
    static = bool(calibration)
    name = "int8-static" if static else "int8"
    kind = "static" if static else "dynamic"
    reader = _calibration(guard.fp32, calibration) if static else None
    dense = [n for n in net.layer_names if n != "table"]

    def make(table: str, per_channel: bool, quantized: Sequence[str]) -> bytes:
        graph = build_graph(net, {"table": table})
        return _ort_quantize(graph, quantized, per_channel, reader)

    attempts: list[dict[str, Any]] = []
    graphs: list[bytes] = []

    def attempt(method: str, graph: bytes, **info: Any) -> bool:
        attempts.append(guard.attempt(method, graph, **info))
        graphs.append(graph)
        return bool(attempts[-1]["passed"])

    naive = _ort_quantize(build_graph(net), None, False, reader, gather=True)
    ok = attempt(f"ONNX Runtime {kind} INT8, per tensor (naive)", naive, table="ort", dense=dense)
    schemes = [("int8-channel", "per channel")]
    if net.table.shape[1] > 1:
        schemes.append(("int8-row", "per row (fp16 scales)"))
    for table, label in schemes:
        if ok:
            break
        ok = attempt(
            f"{kind} INT8, {label} table" + (", per-channel MatMul" if dense else ""),
            make(table, True, dense),
            table=table,
            dense=dense,
        )
    if not ok and dense:
        # sensitivity scan: quantize one dense layer at a time; keep the worst ones in FP32
        best = max(
            (a for a in attempts[1:] if a["weight_ratio"] <= guard.config.max_weight_ratio),
            key=lambda a: a["agreement"],
            default=attempts[-1],
        )
        table = best.get("table", "int8-channel")
        table = "int8-channel" if table == "ort" else table
        alone = {layer: guard.score(make("fp32", True, [layer]))[0] for layer in dense}
        order = sorted(dense, key=lambda layer: alone[layer])
        kept: list[str] = []
        for layer in order:
            kept.append(layer)
            quantized = [d for d in dense if d not in kept]
            ok = attempt(
                f"{kind} INT8, {table} table, keeping {', '.join(kept)} in FP32 (sensitivity scan)",
                make(table, True, quantized),
                table=table,
                dense=quantized,
                sensitivity={k: round(v, 4) for k, v in alone.items()},
            )
            if ok:
                break
    passing = [i for i, a in enumerate(attempts) if a["passed"]]
    index = passing[0] if passing else _best_within(attempts, guard.config.max_weight_ratio)
    attempts[index]["kept"] = True
    graph = graphs[index]
    chosen = attempts[index]
    verdict = "" if chosen["passed"] else " (guardrail missed: the closest scheme kept)"
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
    return Built(name, variant, chosen["method"] + verdict, compute, tuple(attempts))


def _transformer_variant(
    precision: str, net: TransformerNet, guard: _Guard, calibration: list[str]
) -> Built:
    """FP16 or INT8 of a transformer's (fused) FP32 graph, made by ONNX Runtime's tools."""
    fp32 = guard.fp32
    base = guard.source
    if precision == "fp16":
        storage = _fp16_storage(fp32.graph)
        texts = guard.texts[:100]
        storage_ms = _graph_ms(fp32.with_graph(storage, threads=1), texts)
        try:
            from onnxconverter_common.float16 import convert_float_to_float16

            with quiet_onnx_tools():
                compute = convert_float_to_float16(
                    _onnx(fp32.graph), keep_io_types=True
                ).SerializeToString()
                compute_ms = _graph_ms(fp32.with_graph(compute, threads=1), texts)
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
    static = bool(calibration)
    name = "int8-static" if static else "int8"
    nodes = [n.name for n in _onnx(fp32.graph).graph.node]
    last = int(net.config.get("num_hidden_layers", 1)) - 1

    def layers(*numbers: int) -> list[str]:
        """The nodes of encoder layers ``numbers`` (traced names, and fused attention's)."""
        marks = [f"layer.{k}/" for k in numbers] + [f"Attention_{k}" for k in numbers]
        return [n for n in nodes if any(n.endswith(m) or m in n for m in marks)]

    head = [n for n in nodes if "/head/" in n]
    schemes: list[tuple[str, dict[str, Any]]]
    if static:
        reader = _calibration(fp32, calibration)
        schemes = [
            (
                "static INT8 (QDQ) of the dense layers, activation ranges calibrated (min-max) "
                f"on {len(calibration)} texts, per-channel weights; the layers after GELU, "
                "attention and embeddings dynamic INT8; the head in FP32",
                {"per_channel": True, "exclude": head},
            )
        ]
    else:
        reader = None
        schemes = [
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
    attempts: list[dict[str, Any]] = []
    graphs: list[bytes] = []
    for method, scheme in schemes:
        graph = _ort_quantize_transformer(fp32.graph, reader=reader, **scheme)
        attempts.append(guard.attempt(method, graph))
        graphs.append(graph)
        if attempts[-1]["passed"]:
            break
    passing = [i for i, a in enumerate(attempts) if a["passed"]]
    index = passing[0] if passing else _best_within(attempts, guard.config.max_weight_ratio)
    attempts[index]["kept"] = True
    chosen = attempts[index]
    verdict = "" if chosen["passed"] else " (guardrail missed: the closest scheme kept)"
    variant = replace(
        base, graph=graphs[index], precision=name, details={**base.details, "quantization": chosen}
    )
    compute = (
        "dense layers in int8 with calibrated activation ranges (QDQ, run as QLinearMatMul); "
        "the layers after GELU, attention and embeddings in int8, activations quantized per call"
        if static
        else "MatMul, attention and embeddings in int8 (activations quantized per call)"
    )
    return Built(name, variant, chosen["method"] + verdict, compute, tuple(attempts))


def _onnx(graph: bytes) -> Any:
    import onnx

    return onnx.load_from_string(graph)


def _fp16_storage(graph: bytes) -> bytes:
    """``graph`` with every float32 weight of 256 values or more stored in float16 and cast
    back to float32 by a Cast node (which ONNX Runtime folds once, when it loads the graph)."""
    from onnx import TensorProto, helper, numpy_helper

    model = _onnx(graph)
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


def _ort_quantize_transformer(
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
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        # typed outputs of the contrib ops, without which calibration skips every activation
        # and "static" INT8 would quantize the weights alone. (Where it fails, ONNX Runtime
        # saves the graph to the working directory: the scratch one.)
        try:
            with contextlib.chdir(scratch):
                typed = SymbolicShapeInference.infer_shapes(_onnx(graph), auto_merge=True)
        except Exception as error:
            raise ExportError(
                "int8-static: ONNX Runtime's symbolic shape inference cannot type this graph "
                f"({error}); quantize it without int8-static"
            ) from error
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


def _best_within(attempts: list[dict[str, Any]], max_ratio: float) -> int:
    within = [i for i, a in enumerate(attempts) if a["weight_ratio"] <= max_ratio]
    candidates = within or list(range(len(attempts)))
    return max(candidates, key=lambda i: attempts[i]["agreement"])


def _ort_quantize(
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


def _calibration(classifier: OnnxClassifier, texts: list[str]) -> Any:
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


def prune_rows(table: np.ndarray, keep: int, projection: np.ndarray | None = None) -> np.ndarray:
    """The ``keep`` rows of largest L2 norm (fastText's ``-cutoff``), in increasing order.

    With ``projection`` (the first layer after the bag, [width, out]) a row's norm is that of
    what it adds to that layer, ``row @ projection``: without fastText's retraining, a row the
    next layer does not read (an n-gram bucket left at its random start) is not worth keeping.
    """
    if keep >= len(table):
        return np.arange(len(table))
    norms = np.linalg.norm(table if projection is None else table @ projection, axis=1)
    return np.sort(np.argpartition(-norms, keep - 1)[:keep])


def product_quantize(table: np.ndarray, *, seed: int = 0, sub_dim: int = 2) -> ProductCodes:
    """Product quantisation of ``table``: split each row into sub-vectors of ``sub_dim`` values
    and replace each by the nearest of 256 centroids of its sub-space (k-means, fitted on at
    most 65,536 rows as fastText does)."""
    from sklearn.cluster import KMeans

    rows, width = table.shape
    if width % sub_dim:
        sub_dim = 1
    subspaces = width // sub_dim
    rng = np.random.default_rng(seed)
    sample = rng.choice(rows, size=min(rows, 256 * PQ_CENTROIDS), replace=False)
    codes = np.zeros((rows, subspaces), dtype=np.uint8)
    books = np.zeros((subspaces, PQ_CENTROIDS, sub_dim), dtype=np.float32)
    for m in range(subspaces):
        block = table[:, m * sub_dim : (m + 1) * sub_dim].astype(np.float32)
        fit = block[sample]
        clusters = min(PQ_CENTROIDS, len(np.unique(fit, axis=0)))
        kmeans = KMeans(n_clusters=clusters, n_init=1, max_iter=25, random_state=seed).fit(fit)
        books[m, :clusters] = kmeans.cluster_centers_
        for start in range(0, rows, 1 << 18):
            codes[start : start + (1 << 18), m] = kmeans.predict(block[start : start + (1 << 18)])
    return ProductCodes(codes=codes, codebooks=books)


def _graph_ms(classifier: OnnxClassifier, texts: list[str]) -> float:
    """Median milliseconds of the graph alone on one text at a time."""
    feeds = [classifier.inputs([t]) for t in texts] or [classifier.inputs([""])]
    classifier.run(feeds[0])
    timings = []
    for feed in feeds:
        start = time.perf_counter()
        classifier.run(feed)
        timings.append(time.perf_counter() - start)
    return float(np.median(timings) * 1000)


TURN_TEXTS = 20
"""Texts each variant runs in a row when the variants take turns: a server runs one model over
and over, with its weights in the CPU's caches; turns of one text would have each variant evict
the others' (MiniLM: INT8's 22 MB of weights fit where FP32's 86 MB do not)."""


def _time(
    classifiers: dict[str, OnnxClassifier],
    shuffled: list[str],
    texts: list[str],
    config: QuantizeConfig,
) -> dict[str, dict[str, float]]:
    """Latency of one text (end to end and graph alone) and batch throughput. The variants
    take turns, ``TURN_TEXTS`` texts each, so that a noisy neighbour slows them all alike."""
    sample = shuffled[: config.latency_texts] or [""]
    total: dict[str, list[float]] = {name: [] for name in classifiers}
    graph: dict[str, list[float]] = {name: [] for name in classifiers}
    feeds = {name: [c.inputs([text]) for text in sample] for name, c in classifiers.items()}
    for first in range(0, len(sample), TURN_TEXTS):
        turn = range(first, min(first + TURN_TEXTS, len(sample)))
        for name, classifier in classifiers.items():
            classifier.run(feeds[name][first])  # untimed: brings its weights back into cache
            for i in turn:
                start = time.perf_counter()
                classifier.predict_proba([sample[i]])
                total[name].append(time.perf_counter() - start)
            for i in turn:  # the graph alone, on prepared inputs
                start = time.perf_counter()
                classifier.run(feeds[name][i])
                graph[name].append(time.perf_counter() - start)
    batches = [
        texts[i : i + config.batch_size]
        for i in range(0, min(len(texts), config.throughput_texts), config.batch_size)
    ]
    seconds = dict.fromkeys(classifiers, 0.0)
    for batch in batches:
        for name, classifier in classifiers.items():
            start = time.perf_counter()
            classifier.predict_proba(batch)
            seconds[name] += time.perf_counter() - start
    done = sum(len(b) for b in batches)
    result = {}
    for name in classifiers:
        p50, p95 = np.percentile(np.asarray(total[name]) * 1000, [50, 95])
        result[name] = {
            "latency_ms_p50": round(float(p50), 4),
            "latency_ms_p95": round(float(p95), 4),
            "model_latency_ms_p50": round(float(np.median(graph[name]) * 1000), 5),
            "throughput_per_s": round(done / max(seconds[name], 1e-9), 1),
        }
    return result


def _row(
    item: Built,
    root: Path,
    fp32: Built,
    accuracy: dict[str, float],
    predictions: dict[str, np.ndarray],
    timings: dict[str, dict[str, float]],
    n: int,
) -> dict[str, Any]:
    size = (root / item.name / "model.onnx").stat().st_size
    base = (root / "fp32" / "model.onnx").stat().st_size
    weights = weight_bytes(item.variant.graph)
    base_weights = weight_bytes(fp32.variant.graph)
    directory = _dir_bytes(root / item.name)
    base_directory = _dir_bytes(root / "fp32")
    agreement = float((predictions[item.name] == predictions["fp32"]).mean()) if n else 1.0
    return {
        "precision": item.name,
        "size_bytes": size,
        "size_ratio": round(size / base, 4),
        "weights_bytes": weights,
        "weights_ratio": round(weights / base_weights, 4),
        "dir_size_bytes": directory,
        "dir_size_ratio": round(directory / base_directory, 4),
        **timings[item.name],
        "speedup": 1.0,
        "model_speedup": 1.0,
        "accuracy": accuracy[item.name],
        "accuracy_delta": round(accuracy[item.name] - accuracy[fp32.name], 6),
        "agreement": round(agreement, 6),
        "method": item.method,
        "compute": item.compute,
        "path": item.name,
    }


def weight_bytes(graph: bytes) -> int:
    """Bytes of every array stored in an ONNX graph (its weights and constants)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(graph)
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _choose(rows: list[dict[str, Any]], max_drop: float | None) -> dict[str, Any] | None:
    """The smallest (then fastest) variant within ``max_drop`` points of FP32's accuracy."""
    if max_drop is None:
        return None
    within = [r for r in rows if -100 * r["accuracy_delta"] <= max_drop + 1e-9]
    best = min(within, key=lambda r: (r["size_bytes"], r["latency_ms_p50"]))
    reason = (
        f"{best['precision']} is the smallest variant within {max_drop:g} accuracy points of "
        f"FP32: {_size(best['size_bytes'])} ({best['size_ratio']:.0%} of FP32), "
        f"{best['speedup']:.2f}x the speed, accuracy {best['accuracy']:.4f} "
        f"({100 * best['accuracy_delta']:+.2f} points)"
    )
    return {"precision": best["precision"], "path": best["path"], "reason": reason}


def _device() -> str:
    import onnxruntime

    return f"{cpu()}, ONNX Runtime {onnxruntime.__version__} (CPUExecutionProvider)"


def _size(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def _plot(table: QuantizationTable) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=True)
    for axis, key, label in (
        (axes[0], "size_bytes", "model.onnx size (bytes, log scale)"),
        (axes[1], "latency_ms_p50", "p50 latency for one text (ms)"),
    ):
        for row in table.rows:
            axis.scatter(row[key], row["accuracy"], s=60, color="#0969da", zorder=3)
            axis.annotate(
                row["precision"],
                (row[key], row["accuracy"]),
                textcoords="offset points",
                xytext=(6, 4),
            )
        axis.set_xlabel(label)
        axis.margins(x=0.15, y=0.1)  # room for the labels
        axis.grid(alpha=0.3)
    axes[0].set_xscale("log")
    axes[0].set_ylabel("test accuracy")
    figure.suptitle(f"Accuracy against size and speed ({table.source['family']})")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
