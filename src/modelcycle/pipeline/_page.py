"""The run page, ``index.html``: each stage's headline, plots drawn from its JSON outputs, and a
link to its full report; the variant to serve and the exact command that serves it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelcycle import _html
from modelcycle._charts import PALETTE, Panel, data_uri, figure

__all__ = ["index_html"]

LEADERBOARD = "select/leaderboard.json"
_SHADE = "display:block;padding:0 4px;background:rgba(9,105,218,"
ORDER = ("eda", "clean", "split", "select", "train", "evaluate", "predict", "quantize")


def index_html(run_dir: Path, summary: Mapping[str, Any]) -> str:
    """The whole page of a run directory whose ``run.json`` is ``summary``."""
    sections = [
        _headline(summary),
        _data(summary),
        _cleaning(summary.get("clean")),
        _leaderboard(_read(run_dir / LEADERBOARD)),
        _evaluation(summary.get("test_metrics"), (run_dir / "model/training_curve.png").is_file()),
        _quantization(summary),
        _serve(summary["serve"]),
        _stages(summary["timings"]),
    ]
    nav = [
        ("Data", "#data"),
        ("Evaluation", "#evaluation"),
        ("Optimization", "#optimization"),
        ("Serve", "#serve"),
        ("Data report", "eda/eda.html"),
        ("Evaluation report", "evaluation/evaluation.html"),
    ]
    subtitle = f"{summary['model']} on {summary['data']} · {summary['created']}"
    return _html.page("modelcycle run", "".join(sections), subtitle=subtitle, nav=nav)


def _headline(summary: Mapping[str, Any]) -> str:
    metrics = summary.get("test_metrics")
    if metrics is None:
        return ""
    ci = metrics["accuracy_ci95"]
    warnings = "".join(
        f'<p class="note warn">Warning: {_html.esc(w)}</p>' for w in summary.get("warnings", [])
    )
    cards = _html.cards(
        [
            ("test accuracy", _html.fmt(metrics["accuracy"])),
            ("95% interval", f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "–"),
            ("test macro F1", _html.fmt(metrics["macro_f1"])),
            ("majority baseline", _html.fmt(metrics["baselines"]["majority_accuracy"])),
            ("rows", f"{summary['rows']:,}"),
            ("model", summary["model"]),
        ]
    )
    return f"<h2>Headline</h2>{warnings}{cards}"


def _data(summary: Mapping[str, Any]) -> str:
    labels = dict(summary["labels"])
    parts = summary["split"]
    split_table = _html.table(
        ["part", "rows", *labels],
        [
            [name, f"{p['rows']:,}", *(f"{p['labels'].get(lab, 0):,}" for lab in labels)]
            for name, p in parts.items()
        ],
        numeric=tuple(range(1, len(labels) + 2)),
    )
    chart = _label_chart(labels) if labels else ""
    body = (
        f"<p>{_html.esc(summary['data'])} (SHA-256 <code>{_html.esc(summary['data_sha256'] or '–')}"
        f"</code>): {summary['rows']:,} rows after cleaning.</p>{chart}{split_table}"
        '<p>Full report: <a href="eda/eda.html">eda/eda.html</a> (duplicates, lengths, n-grams, '
        'quality); the parts: <a href="data/split.json">data/split.json</a>.</p>'
    )
    return _html.section("data", "Data", body)


def _label_chart(labels: Mapping[str, int]) -> str:
    names = list(labels)[:30]
    counts = [labels[n] for n in names]
    total = sum(labels.values())
    panel = Panel(
        x=(0, max(counts) * 1.35), y=(0, 1), title="Texts per label", xlabel="texts",
        yticks=[], left=24 + 7 * max(len(n[:28]) for n in names),
    )  # fmt: skip
    panel.hbars([n[:28] for n in names], counts, [f"{c:,} ({c / total:.1%})" for c in counts])
    svg = figure([panel], width=520, height=86 + 30 * len(names), alt="Texts per label")
    return _html.figure(data_uri(svg), "Bar chart of the texts per label")


def _cleaning(cleaned: Mapping[str, Any] | None) -> str:
    if not cleaned:
        return ""
    table = _html.table(
        ["rows in", "rows out", "removed", "changed"],
        [[f"{cleaned[key]:,}" for key in ("rows_in", "rows_out", "rows_removed", "rows_changed")]],
        numeric=(0, 1, 2, 3),
    )
    reasons = ", ".join(f"{n:,} {why}" for why, n in cleaned["removed"].items() if n) or "none"
    return _html.section(
        "cleaning",
        "Cleaning",
        f"{table}<p>Removed: {_html.esc(reasons)}. Full report: "
        '<a href="clean/clean_report.json">clean/clean_report.json</a>; every removed and changed '
        'row: <a href="clean/removed.csv">clean/removed.csv</a>, '
        '<a href="clean/changed.csv">clean/changed.csv</a>.</p>',
    )


def _leaderboard(board: Mapping[str, Any] | None) -> str:
    """The select stage's leaderboard (when it ran): its table, trade-off plot and choice."""
    if board is None:
        return ""
    rows = list(board.get("rows", []))
    columns = [k for k in (rows[0] if rows else {}) if not isinstance(rows[0][k], dict | list)]
    table = _html.table(
        columns, [[_cell(row.get(c)) for c in columns] for row in rows], compact=True
    )
    plot = _tradeoff(rows)
    choice = _html.esc(f"{board.get('recommendation')}: {board.get('reason', '')}")
    return _html.section(
        "leaderboard",
        "Model selection",
        f'<p class="note ok">Chosen: {choice}</p>{plot}{table}<p>Full report: '
        '<a href="select/leaderboard.html">select/leaderboard.html</a>.</p>',
    )


def _tradeoff(rows: Sequence[Mapping[str, Any]]) -> str:
    """Accuracy against latency of each candidate, when the rows carry both."""
    acc = next((k for k in (rows[0] if rows else {}) if "accuracy" in k), None)
    lat = next((k for k in (rows[0] if rows else {}) if "latency" in k), None)
    points = [r for r in rows if acc and lat and isinstance(r.get(acc), int | float)
              and isinstance(r.get(lat), int | float)]  # fmt: skip
    if not points or acc is None or lat is None:
        return ""
    xs, ys = [float(r[lat]) for r in points], [float(r[acc]) for r in points]
    panel = Panel(
        x=(0, max(xs) * 1.15 or 1), y=(min(ys) - 0.02, min(1.0, max(ys) + 0.02)),
        title="Accuracy against latency", xlabel=lat, ylabel=acc,
    )  # fmt: skip
    names = [str(r.get("model", i + 1)) for i, r in enumerate(points)]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(points))]
    for x, y, colour in zip(xs, ys, colours, strict=True):
        panel.dots([x], [y], colour, radius=5, opacity=0.9)
    svg = figure([panel], width=520, height=300, legend=list(zip(names, colours, strict=True)))
    return _html.figure(data_uri(svg), "trade-off plot")


def _evaluation(metrics: Mapping[str, Any] | None, curve: bool) -> str:
    if metrics is None:
        return ""
    per_class = metrics["per_class"]
    names = list(per_class)
    panel = Panel(
        x=(0, 1.25), y=(0, 1), title="Test F1 per label", xlabel="F1", yticks=[],
        left=24 + 7 * max(len(str(n)[:28]) for n in names),
    )  # fmt: skip
    scores = [per_class[n]["f1"] for n in names]
    panel.hbars([str(n)[:28] for n in names], scores, [f"{s:.3f}" for s in scores])
    f1 = _html.figure(
        data_uri(figure([panel], width=460, height=86 + 30 * len(names))), "F1 per label"
    )
    plots = f'<div class="grid"><div>{f1}</div><div>{_reliability(metrics)}</div></div>'
    training = (
        _html.figure("model/training_curve.png", "training curve", caption="Training history")
        if curve
        else ""
    )
    return _html.section(
        "evaluation",
        "Evaluation on the test part",
        f"{plots}{_confusion(metrics['confusion_matrix'])}{training}<p>Full report: "
        '<a href="evaluation/evaluation.html">evaluation/evaluation.html</a> (ROC and PR curves, '
        'errors, slices; <a href="evaluation/metrics.json">metrics.json</a>); every prediction: '
        '<a href="predictions.csv">predictions.csv</a>; the model: '
        '<a href="model/model.json">model/model.json</a>.</p>',
    )


def _reliability(metrics: Mapping[str, Any]) -> str:
    bins = [b for b in metrics["calibration"]["bins"] if b["count"]]
    panel = Panel(
        x=(0, 1), y=(0, 1), title=f"Reliability (ECE {metrics['ece']:.3f})",
        xlabel="confidence", ylabel="accuracy",
    )  # fmt: skip
    panel.line([0, 1], [0, 1], "#6e7781")
    panel.line([b["confidence"] for b in bins], [b["accuracy"] for b in bins], PALETTE[0])
    panel.dots([b["confidence"] for b in bins], [b["accuracy"] for b in bins], PALETTE[0], radius=4)
    return _html.figure(data_uri(figure([panel], width=420, height=300)), "reliability diagram")


def _confusion(confusion: Mapping[str, Any]) -> str:
    """The confusion matrix as a table whose cells are shaded by their share of the row."""
    labels, matrix = confusion["labels"], confusion["matrix"]
    rows = []
    for label, counts in zip(labels, matrix, strict=True):
        total = sum(counts) or 1
        cells = [
            _html.Html(f'<span style="{_SHADE}{0.45 * n / total:.2f})">{n:,}</span>')
            for n in counts
        ]
        rows.append([label, *cells])
    header = ["true \\ predicted", *labels]
    return "<h3>Confusion matrix</h3>" + _html.table(
        header, rows, numeric=tuple(range(1, len(labels) + 1))
    )


def _quantization(summary: Mapping[str, Any]) -> str:
    quantized = summary.get("quantization")
    if not quantized:
        return ""
    chosen = summary["serve"]["variant"]
    rows = [
        [
            _html.Html(f"<b>{_html.esc(name)}</b> ✓") if name == chosen else name,
            f"{row['size_bytes'] / 1024:,.1f} KiB",
            f"{row['size_ratio']:.0%}",
            f"{row['latency_ms_p50']:.3f}",
            f"{row.get('throughput_per_s', 0):,.0f}",
            f"{row.get('speedup', 1):.2f}x",
            _html.fmt(row["accuracy"]),
            f"{100 * row['accuracy_delta']:+.2f}",
            f"{row['agreement']:.2%}",
        ]
        for name, row in quantized.items()
    ]
    table = _html.table(
        ["precision", "size", "of FP32", "p50 ms (1 text)", "texts/s", "speed", "accuracy",
         "Δ points", "agrees with FP32"],
        rows, numeric=tuple(range(1, 9)),
    )  # fmt: skip
    drop = summary.get("max_accuracy_drop")
    budget = "not set" if drop is None else f"{drop:g} points"
    return _html.section(
        "optimization",
        "Optimization",
        f"{table}<p>Measured on the test part ([quantize] max_accuracy_drop: {budget}).</p>"
        f'<p class="note ok">Chosen: {_html.esc(summary["serve"]["reason"])}.</p><p>Full report: '
        '<a href="quantized/quantization.md">quantized/quantization.md</a> (how each variant '
        'computes; <a href="quantized/quantization.json">quantization.json</a>).</p>',
    )


def _serve(serve: Mapping[str, Any]) -> str:
    return _html.section(
        "serve",
        "Serve it",
        f"<p><code>{_html.esc(serve['command'])}</code></p><p>An HTTP server on "
        '127.0.0.1:8000: <code>POST /v1/predict</code> with <code>{"texts": [...]}</code>, '
        "docs at <code>/docs</code>.</p>",
    )


def _stages(timings: Mapping[str, float]) -> str:
    table = _html.table(
        ["stage", "seconds", "record"],
        [
            [
                name,
                f"{seconds:.2f}",
                _html.Html(f'<a href="stages/{name}.json">stages/{name}.json</a>'),
            ]
            for name, seconds in sorted(timings.items(), key=lambda item: ORDER.index(item[0]))
        ],
        numeric=(1,),
    )
    return _html.section(
        "stages",
        "Stages",
        f"{table}<p>Each record holds the SHA-256 of the stage's inputs and outputs and its "
        "config; an unchanged stage is skipped when the run is repeated. Every file with its "
        'SHA-256: <a href="manifest.json">manifest.json</a> (<code>modelcycle verify</code>); '
        'the config: <a href="config.json">config.json</a>.</p>',
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data
