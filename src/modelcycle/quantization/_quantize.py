"""``quantize``: make every variant of a model, measure each on a test set, write the table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._io import atomic_dir
from modelcycle.artifacts import update_model_meta, write_manifest
from modelcycle.config import QuantizeConfig
from modelcycle.data import Dataset
from modelcycle.evaluation import evaluate
from modelcycle.exceptions import ConfigError
from modelcycle.export import (
    TransformerNet,
    check_parity,
    fused_transformer,
    network_of,
    parity_texts,
    parity_words,
    variant_of,
)
from modelcycle.models import TextClassifier, load_model
from modelcycle.prediction import predict
from modelcycle.quantization._bag import bag_variant
from modelcycle.quantization._choice import choose
from modelcycle.quantization._guard import Built, Guard
from modelcycle.quantization._table import TABLE_FILE, QuantizationTable, measured_row
from modelcycle.quantization._timing import device, time_variants
from modelcycle.quantization._transformer import transformer_variant
from modelcycle.runtime import OnnxClassifier

__all__ = ["quantize"]


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
    rng = np.random.default_rng(config.seed)
    pool = list(calibration) if calibration is not None else dataset.texts
    shuffled = [pool[i] for i in rng.permutation(len(pool))]
    built, guard = _build_all(model, dataset, config, shuffled, say)
    with atomic_dir(Path(out_dir), replace_if=TABLE_FILE) as tmp:
        rows = _measure(built, tmp, dataset, config, shuffled, say)
        table = QuantizationTable(
            rows=rows,
            device=device(),
            threads=config.threads,
            batch_size=config.batch_size,
            n=len(dataset),
            choice=choose(rows, config.max_accuracy_drop),
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


def _build_all(
    model: TextClassifier,
    dataset: Dataset,
    config: QuantizeConfig,
    shuffled: list[str],
    say: Callable[[str], None],
) -> tuple[list[Built], Guard]:
    """Every variant, fp32 first (exported, parity-checked, fused where ONNX Runtime can),
    and the guardrail that scored them."""
    precisions = _precisions(model.family, config)
    net, state = network_of(model)
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
    guard = Guard(
        fp32.classifier(threads=config.threads), shuffled[: config.guardrail_texts], config, fp32
    )
    calibrate = shuffled[: config.calibrate]
    for precision in precisions[1:]:
        say(f"{precision}: building")
        static = calibrate if precision == "int8-static" else []
        if isinstance(net, TransformerNet):
            built.append(transformer_variant(precision, net, guard, static))
        else:
            built.append(bag_variant(precision, model, net, state, guard, config, calibrate))
    return built, guard


def _measure(
    built: list[Built],
    tmp: Path,
    dataset: Dataset,
    config: QuantizeConfig,
    shuffled: list[str],
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Write each variant into ``tmp``, evaluate and time it, and record its figures in its
    own ``model.json`` (GET /v1/model shows them); the table's rows."""
    classifiers: dict[str, OnnxClassifier] = {}
    accuracy: dict[str, float] = {}
    macro_f1: dict[str, float] = {}
    predictions: dict[str, np.ndarray] = {}
    for item in built:
        say(f"{item.name}: write and evaluate")
        item.variant.write_dir(tmp / item.name, text_input=config.text_input)
        loaded = load_model(tmp / item.name)
        report = evaluate(loaded, dataset, model_name=item.name, seed=config.seed)
        accuracy[item.name] = report.metrics["accuracy"]
        macro_f1[item.name] = report.metrics["macro_f1"]
        predictions[item.name] = predict(loaded, dataset.texts).labels  # as evaluate answers
        classifiers[item.name] = OnnxClassifier.load(tmp / item.name, threads=config.threads)
    say("timing: batch 1 and batch " + str(config.batch_size))
    timings = time_variants(classifiers, shuffled, dataset.texts, config)
    for item in built:
        measured = {
            "accuracy": accuracy[item.name],
            "macro_f1": macro_f1[item.name],
            **timings[item.name],
            "n": len(dataset),
            "data": dataset.source,
        }
        update_model_meta(tmp / item.name, {"metrics": measured})
    rows = [
        measured_row(item, tmp, built[0], accuracy, predictions, timings, len(dataset))
        for item in built
    ]
    base = rows[0]
    for row in rows:
        row["speedup"] = round(base["latency_ms_p50"] / row["latency_ms_p50"], 3)
        row["model_speedup"] = round(base["model_latency_ms_p50"] / row["model_latency_ms_p50"], 3)
    return rows


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
