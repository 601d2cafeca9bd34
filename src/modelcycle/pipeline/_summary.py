"""The run's own files, rebuilt from its stages' outputs: ``config.json``, ``run.json``,
``index.html`` and ``manifest.json`` (skipped when no stage changed since they were written)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelcycle._io import write_json, write_text
from modelcycle._version import __version__
from modelcycle.config import PipelineConfig
from modelcycle.pipeline._manifest import write_run_manifest
from modelcycle.pipeline._page import index_html

__all__ = ["RUN_FILE", "smallest_variant", "write_run_files"]

RUN_FILE = "run.json"
_QUANTIZED_KEYS = (
    "size_bytes", "size_ratio", "latency_ms_p50", "throughput_per_s", "speedup", "accuracy",
    "accuracy_delta", "agreement",
)  # fmt: skip


def write_run_files(
    run_dir: Path, config: PipelineConfig, records: Mapping[str, Any], ran: list[str]
) -> dict[str, Any]:
    """Write the run's own files from its stages' outputs; returns ``run.json`` with ``ran``
    (the stages that ran now) added. Unchanged stages and config leave the files as they are."""
    key = hashlib.sha256(
        json.dumps([config.to_dict(), records], sort_keys=True).encode()
    ).hexdigest()
    previous = _read(run_dir / RUN_FILE)
    kept = [run_dir / name for name in ("index.html", "manifest.json", "config.json")]
    if previous is not None and previous.get("key") == key and all(p.is_file() for p in kept):
        return {**previous, "ran": ran}
    summary = build_summary(run_dir, config, records)
    summary["key"] = key
    write_json(run_dir / "config.json", config.to_dict())
    write_json(run_dir / RUN_FILE, summary)
    write_text(run_dir / "index.html", index_html(run_dir, summary))
    write_run_manifest(run_dir, config)
    return {**summary, "ran": ran}


def build_summary(
    run_dir: Path, config: PipelineConfig, records: Mapping[str, Any]
) -> dict[str, Any]:
    """``run.json``: what ran on which data, its headline figures, and how to serve it."""
    split = _read(run_dir / "data" / "split.json") or {}
    parts = {
        name: {k: split[name][k] for k in ("rows", "labels")} for name in _PARTS if name in split
    }
    labels: dict[str, int] = {}
    for part in parts.values():
        for label, n in part["labels"].items():
            labels[label] = labels.get(label, 0) + n
    model = _read(run_dir / "model" / "model.json") or {}
    metrics = _read(run_dir / "evaluation" / "metrics.json")
    data_hashes = [
        v for k, v in records.get("eda", {}).get("inputs", {}).items() if k.startswith("data:")
    ]
    summary: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "modelcycle_version": __version__,
        "data": config.data.path,
        "data_sha256": data_hashes[0] if data_hashes else None,
        "rows": sum(p["rows"] for p in parts.values()),
        "labels": labels,
        "clean": _clean_summary(_read(run_dir / "clean" / "clean_report.json")),
        "split": parts,
        "model": model.get("family", config.train.model),
        "train_seconds": model.get("training", {}).get("seconds"),
        "val_metrics": model.get("metrics", {}),
        "timings": {name: record["seconds"] for name, record in records.items()},
        "max_accuracy_drop": config.quantize.max_accuracy_drop,
    }
    if metrics is not None:
        summary["test_metrics"] = metrics
        summary["warnings"] = _warnings(metrics)
    table = _read(run_dir / "quantized" / "quantization.json")
    if table is not None:
        summary["quantization"] = {
            row["precision"]: {key: row[key] for key in _QUANTIZED_KEYS if key in row}
            for row in table["rows"]
        }
    summary["serve"] = _serve(
        run_dir, summary.get("quantization"), config.quantize.max_accuracy_drop
    )
    return summary


_PARTS = ("train", "val", "test")


def smallest_variant(quantized: Mapping[str, Any], max_drop: float | None) -> str:
    """The variant to serve among ``run.json``'s ``quantization``, named by quantization's rule
    (:func:`~modelcycle.quantization.pick_variant`, as ``quantize --max-accuracy-drop``): the
    smallest within ``max_drop`` accuracy points of FP32 (the smallest of all when None)."""
    from modelcycle.quantization import pick_variant  # deferred: start-up time

    rows = [{"precision": name, **row} for name, row in quantized.items()]
    return str(pick_variant(rows, max_drop)["precision"])


def _serve(
    run_dir: Path, quantized: Mapping[str, Any] | None, max_drop: float | None
) -> dict[str, Any]:
    """The variant to serve, why, and the exact command that serves it; without the quantize
    stage, the export that makes the trained model servable."""
    model = (run_dir / "model").resolve()
    if not quantized:
        exported = (run_dir / "exported").resolve()
        return {
            "variant": None,
            "path": str(model),
            "reason": "the quantize stage is off ([quantize] enabled = false): export the model "
            "to ONNX, then serve it",
            "command": f"modelcycle export {model} -o {exported} && modelcycle serve {exported}",
        }
    from modelcycle.quantization import rule_text  # deferred: start-up time

    name = smallest_variant(quantized, max_drop)
    best, fp32 = quantized[name], quantized["fp32"]
    path = (run_dir / "quantized" / name).resolve()
    reason = (
        f"{name} is the {rule_text(max_drop)}: {best['size_ratio']:.0%} of FP32's size, "
        f"{best['speedup']:.2f}x its speed, test accuracy {best['accuracy']:.4f} "
        f"({100 * best['accuracy_delta']:+.2f} points against FP32's {fp32['accuracy']:.4f})"
    )
    if max_drop is None:
        reason += "; set [quantize] max_accuracy_drop to bound the accuracy it may give up"
    return {
        "variant": name,
        "path": str(path),
        "reason": reason,
        "command": f"modelcycle serve {path}",
    }


def _warnings(metrics: Mapping[str, Any]) -> list[str]:
    """The evaluation's warnings, and one when the model does no better than always answering
    the test part's most common label (a run that looks done but learned nothing usable)."""
    warnings = list(metrics.get("warnings", []))
    baselines = metrics["baselines"]
    if metrics["accuracy"] <= baselines["majority_accuracy"] + 1e-12:
        warnings.append(
            f"test accuracy {metrics['accuracy']:.4f} is not above the majority-class baseline "
            f"{baselines['majority_accuracy']:.4f} (always answering "
            f"{baselines['majority_label']!r}): the model learned nothing it can use on these "
            f"{metrics['n']:,} test rows; check the labels and the text column, add data, or try "
            "another model"
        )
    return warnings


def _clean_summary(report: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The clean report's headline (the full one is clean/clean_report.json)."""
    if report is None:
        return None
    keys = ("rows_in", "rows_out", "rows_removed", "rows_changed", "removed", "changed")
    return {key: report[key] for key in keys}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data
