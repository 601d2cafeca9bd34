"""Model selection: the blog's "how to pick the right model", measured on the user's data.

Every candidate family is trained on the same training part and scored on the same validation
part (or k folds): accuracy and macro-F1 with a bootstrap interval, training time, single-text
latency, batch throughput and size on disk. The recommendation is the most accurate model that
meets the user's constraints, with the reason in one sentence.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle import _html
from modelcycle._figures import new_figure, png_bytes
from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle.config import SelectConfig, SplitConfig, TrainConfig
from modelcycle.data import Dataset
from modelcycle.evaluation import compute_metrics
from modelcycle.models import TextClassifier
from modelcycle.split import split_dataset
from modelcycle.training import train

__all__ = ["Leaderboard", "select"]

LATENCY_SAMPLES = 200


@dataclass(frozen=True)
class Leaderboard:
    """One row per candidate, best accuracy first, and the recommendation."""

    rows: list[dict[str, Any]]
    recommendation: str | None
    reason: str
    constraints: dict[str, float | None]
    data: str
    scoring: str

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "scoring": self.scoring,
            "constraints": self.constraints,
            "recommendation": self.recommendation,
            "reason": self.reason,
            "rows": self.rows,
        }

    def summary(self, out_dir: str | Path) -> str:
        """A line per candidate (accuracy, latency, size, time), the recommendation and why."""
        lines = [
            f"{row['model']:9} accuracy {row['accuracy']:.4f}  "
            f"p50 {row['latency_ms_p50']:7.3f} ms  "
            f"{row['size_mb']:8.2f} MB  train {row['train_seconds']:6.2f} s"
            for row in self.rows
        ]
        lines.append(f"recommendation: {self.recommendation or 'none'}. {self.reason}")
        return "\n".join([*lines, f"wrote {out_dir}"])

    def write(self, out_dir: str | Path) -> Path:
        """``leaderboard.json`` and ``leaderboard.html`` (with the Pareto chart), atomically."""
        out_dir = Path(out_dir)
        with atomic_dir(out_dir, replace_if="leaderboard.json") as tmp:
            write_json(tmp / "leaderboard.json", self.to_json())
            write_text(tmp / "leaderboard.html", _render_html(self))
        return out_dir


def select(
    dataset: Dataset,
    config: SelectConfig | None = None,
    *,
    val: Dataset | None = None,
    progress: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Train and measure every family of ``config.models`` on ``dataset``; recommend one.

    Without ``val``, a stratified ``config.val`` share of ``dataset`` is held out (or, with
    ``config.cv >= 2``, every row is scored once across k folds).

    Example::

        board = select(load_dataset("train.csv"), SelectConfig(max_latency_ms=1.0))
        board.recommendation, board.reason
    """
    config = config or SelectConfig()
    dataset.require_classes(2)
    folds = _folds(dataset, config, val)
    rows = []
    for family in config.models:
        if progress is not None:
            progress(family)
        rows.append(_measure(family, folds, config))
    rows.sort(key=lambda r: (-r["accuracy"], r["latency_ms_p50"]))
    _mark_pareto(rows)
    constraints = {
        "max_latency_ms": config.max_latency_ms,
        "max_size_mb": config.max_size_mb,
        "min_accuracy": config.min_accuracy,
    }
    choice, reason = _recommend(rows, constraints)
    scoring = (
        f"{config.cv}-fold cross-validation"
        if config.cv >= 2
        else (
            "the given validation data"
            if val is not None
            else f"a held-out {config.val:.0%} of the data"
        )
    )
    return Leaderboard(rows, choice, reason, constraints, dataset.source, scoring)


def _folds(
    dataset: Dataset, config: SelectConfig, val: Dataset | None
) -> list[tuple[Dataset, Dataset]]:
    if val is not None:
        return [(dataset, val)]
    if config.cv < 2:
        parts = split_dataset(dataset, SplitConfig(test=config.val, val=0.0, seed=config.seed))
        return [(parts.train, parts.test)]
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=config.cv, shuffle=True, random_state=config.seed)
    return [
        (dataset.take(train_rows), dataset.take(test_rows))
        for train_rows, test_rows in splitter.split(np.zeros(len(dataset)), dataset.labels)
    ]


def _measure(
    family: str, folds: list[tuple[Dataset, Dataset]], config: SelectConfig
) -> dict[str, Any]:
    """Train ``family`` on each fold; the metrics pool the folds' predictions."""
    params = dict(config.params.get(family, {}))
    truths, probas, seconds = [], [], 0.0
    model: TextClassifier | None = None
    for train_part, test_part in folds:
        result = train(
            train_part, TrainConfig(model=family, params=params, seed=config.seed), progress=False
        )
        model, seconds = result.model, seconds + result.seconds
        truths.append(test_part.labels)
        probas.append(model.predict_proba(test_part.texts))
    assert model is not None
    classes = model.classes_.tolist()
    metrics = compute_metrics(
        np.concatenate(truths), np.concatenate(probas), classes, seed=config.seed
    )
    texts = folds[-1][1].texts
    latency = _latency_ms(model, texts[:LATENCY_SAMPLES])
    start = time.perf_counter()
    model.predict_proba(texts)
    throughput = len(texts) / (time.perf_counter() - start)
    return {
        "model": family,
        "accuracy": metrics["accuracy"],
        "accuracy_ci95": metrics["accuracy_ci95"],
        "macro_f1": metrics["macro_f1"],
        "train_seconds": round(seconds / len(folds), 3),
        "latency_ms_p50": latency[0],
        "latency_ms_p95": latency[1],
        "throughput_per_s": round(throughput, 1),
        "size_mb": round(_size_bytes(model) / 2**20, 3),
        "params": params,
    }


def _latency_ms(model: TextClassifier, texts: list[str]) -> tuple[float, float]:
    """p50 and p95 of predicting one text at a time."""
    model.predict_proba(texts[:1])  # warm up
    timings = []
    for text in texts:
        start = time.perf_counter()
        model.predict_proba([text])
        timings.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(timings, [50, 95])
    return round(float(p50), 4), round(float(p95), 4)


def _size_bytes(model: TextClassifier) -> int:
    from modelcycle.models import save_model

    with tempfile.TemporaryDirectory() as scratch:
        path = save_model(model, Path(scratch) / "model")
        return sum(f.stat().st_size for f in path.iterdir())


def _mark_pareto(rows: list[dict[str, Any]]) -> None:
    """A model is on the Pareto front when no other is at least as accurate and as fast, and
    strictly better in one of the two."""
    for row in rows:
        row["pareto"] = not any(
            other["accuracy"] >= row["accuracy"]
            and other["latency_ms_p50"] <= row["latency_ms_p50"]
            and (
                other["accuracy"] > row["accuracy"]
                or other["latency_ms_p50"] < row["latency_ms_p50"]
            )
            for other in rows
        )


def _recommend(
    rows: list[dict[str, Any]], constraints: dict[str, float | None]
) -> tuple[str | None, str]:
    def fails(row: dict[str, Any]) -> list[str]:
        why = []
        if (
            constraints["max_latency_ms"] is not None
            and row["latency_ms_p50"] > constraints["max_latency_ms"]
        ):
            why.append(
                f"p50 latency {row['latency_ms_p50']:.2f} ms > {constraints['max_latency_ms']} ms"
            )
        if constraints["max_size_mb"] is not None and row["size_mb"] > constraints["max_size_mb"]:
            why.append(f"size {row['size_mb']:.1f} MB > {constraints['max_size_mb']} MB")
        if (
            constraints["min_accuracy"] is not None
            and row["accuracy"] < constraints["min_accuracy"]
        ):
            why.append(f"accuracy {row['accuracy']:.4f} < {constraints['min_accuracy']}")
        return why

    feasible = [row for row in rows if not fails(row)]
    for row in rows:
        row["meets_constraints"] = row in feasible
    if not feasible:
        closest = min(rows, key=lambda r: len(fails(r)))
        return None, (
            f"No model meets the constraints; the closest is {closest['model']} "
            f"({'; '.join(fails(closest))})."
        )
    best = feasible[0]  # rows are sorted by accuracy, then latency
    stated = [f"{k.replace('_', ' ')} {v}" for k, v in constraints.items() if v is not None]
    within = f" within {', '.join(stated)}" if stated else ""
    reason = (
        f"{best['model']} is the most accurate model{within} ({best['accuracy']:.4f} accuracy, "
        f"{best['latency_ms_p50']:.2f} ms p50 latency, {best['size_mb']:.1f} MB)"
    )
    low = best["accuracy_ci95"][0] if best["accuracy_ci95"] else best["accuracy"]
    faster = [
        r
        for r in feasible[1:]
        if r["accuracy"] >= low and r["latency_ms_p50"] < best["latency_ms_p50"]
    ]
    if faster:
        alt = min(faster, key=lambda r: r["latency_ms_p50"])
        speedup = best["latency_ms_p50"] / max(alt["latency_ms_p50"], 1e-9)
        reason += (
            f"; {alt['model']} is inside its 95% interval and {speedup:.1f}x faster, "
            "if latency matters more"
        )
    return best["model"], reason + "."


def _pareto_png(rows: list[dict[str, Any]]) -> bytes:
    figure = new_figure(7.5, 4.2, dpi=110)
    axis = figure.subplots()
    for row in rows:
        color = "#0969da" if row["pareto"] else "#8c959f"
        axis.scatter(row["latency_ms_p50"], row["accuracy"], s=60, color=color, zorder=3)
        axis.annotate(
            row["model"],
            (row["latency_ms_p50"], row["accuracy"]),
            textcoords="offset points",
            xytext=(6, 4),
        )
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["latency_ms_p50"])
    axis.plot(
        [r["latency_ms_p50"] for r in front],
        [r["accuracy"] for r in front],
        color="#0969da",
        alpha=0.5,
        zorder=2,
    )
    axis.set_xscale("log")
    axis.set(
        xlabel="p50 latency for one text (ms, log scale)",
        ylabel="validation accuracy",
        title="Accuracy against latency (blue: Pareto front)",
    )
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return png_bytes(figure)


def _render_html(board: Leaderboard) -> str:
    table = _html.table(
        [
            "model",
            "accuracy",
            "95% interval",
            "macro F1",
            "train s",
            "p50 ms",
            "p95 ms",
            "texts/s",
            "MB",
            "Pareto",
            "meets constraints",
        ],
        [
            [
                r["model"],
                _html.fmt(r["accuracy"]),
                f"{r['accuracy_ci95'][0]:.3f}–{r['accuracy_ci95'][1]:.3f}"
                if r["accuracy_ci95"]
                else "–",
                _html.fmt(r["macro_f1"]),
                f"{r['train_seconds']:.2f}",
                f"{r['latency_ms_p50']:.3f}",
                f"{r['latency_ms_p95']:.3f}",
                f"{r['throughput_per_s']:,.0f}",
                f"{r['size_mb']:.2f}",
                "yes" if r["pareto"] else "",
                "yes" if r["meets_constraints"] else "no",
            ]
            for r in board.rows
        ],
        numeric=tuple(range(1, 9)),
    )
    verdict = board.recommendation or "none"
    body = (
        f"<h2>Recommendation: {_html.esc(verdict)}</h2><p>{_html.esc(board.reason)}</p>"
        f'<h2>Leaderboard</h2><p class="muted">Scored on {_html.esc(board.scoring)}. '
        "Latency: one text at a time, in this process; throughput: the whole validation part "
        f"in one batch.</p>{table}"
        f"<h2>Accuracy against latency</h2>{_html.image(_pareto_png(board.rows), 'Pareto chart')}"
    )
    return _html.page("Model selection", body, subtitle=f"on {board.data}")
