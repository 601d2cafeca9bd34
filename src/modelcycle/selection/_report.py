"""The leaderboard: every trial (and quantized variant) with its figures, the recommendation and
why; written as ``leaderboard.json`` and ``leaderboard.html`` (accuracy against p50 latency, size
as the marker's area, the Pareto front, the pick marked; each family's best settings; Optuna's
parameter importances)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcycle import _html
from modelcycle._figures import new_figure, png_bytes

__all__ = ["Leaderboard"]

FAMILY_COLOURS = {
    "logreg": "#0969da",
    "svm": "#8250df",
    "nb": "#1a7f37",
    "fasttext": "#bc4c00",
    "mlp": "#bf3989",
    "transformer": "#9a6700",
}


@dataclass(frozen=True)
class Leaderboard:
    """What a selection found. ``rows``: every trial and variant (``state`` complete, pruned,
    skipped or fail); ``recommendation``/``best``: row names."""

    data: str
    scoring: str
    test: str
    alpha: float
    constraints: dict[str, float | None]
    rows: list[dict[str, Any]]
    recommendation: str | None
    best: str | None
    reason: str
    budget_s: float
    elapsed_s: float
    study: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    importances: dict[str, dict[str, float]] = field(default_factory=dict)
    model_dir: str | None = None

    def row(self, name: str) -> dict[str, Any]:
        """The row called ``name`` (``logreg#3``, ``fasttext#7-int8``)."""
        return next(r for r in self.rows if r["name"] == name)

    def candidates(self) -> list[dict[str, Any]]:
        """The measured rows, most accurate first."""
        done = [r for r in self.rows if r["state"] == "complete"]
        return sorted(done, key=lambda r: (-r["accuracy"], r["size_mb"], r["latency_ms_p50"]))

    def families(self) -> dict[str, dict[str, Any]]:
        """Per family: trials by state, and its most accurate trial's settings and figures."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            if r["variant"] != "trained":
                continue
            entry = out.setdefault(r["family"], {"trials": {}, "best": None})
            entry["trials"][r["state"]] = entry["trials"].get(r["state"], 0) + 1
        for r in reversed(self.candidates()):
            if r["variant"] == "trained":
                keys = ("name", "accuracy", "accuracy_ci95", "size_mb", "latency_ms_p50", "params")
                out[r["family"]]["best"] = {k: r[k] for k in keys}
        for family, note in self.skipped.items():
            out.setdefault(family, {"trials": {}, "best": None})["skipped"] = note
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "scoring": self.scoring,
            "test": self.test,
            "alpha": self.alpha,
            "constraints": self.constraints,
            "recommendation": self.recommendation,
            "best": self.best,
            "reason": self.reason,
            "model_dir": self.model_dir,
            "budget_s": self.budget_s,
            "elapsed_s": self.elapsed_s,
            "study": self.study,
            "families": self.families(),
            "importances": self.importances,
            "rows": self.rows,
        }

    def summary(self, out_dir: str | Path) -> str:
        """The scoring, the trials, the five most accurate, what was skipped, and the pick."""
        states = [r["state"] for r in self.rows if r["variant"] == "trained"]
        counts = ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(sorted(states)))
        lines = [
            f"scored on {self.scoring}; paired test: {self.test}",
            f"trials: {counts} in {self.elapsed_s:.1f} s of a {self.budget_s:.0f} s budget",
        ]
        lines += [
            f"  {r['name']:18} accuracy {r['accuracy']:.4f}  p50 {r['latency_ms_p50']:8.3f} ms  "
            f"{r['size_mb']:8.2f} MB"
            for r in self.candidates()[:5]
        ]
        lines += [f"skipped {family}: {note}" for family, note in self.skipped.items()]
        lines.append(f"recommendation: {self.recommendation or 'none'}. {self.reason}")
        wrote = f"wrote {out_dir} (leaderboard.json, leaderboard.html"
        wrote += ", model/)" if self.model_dir else ")"
        return "\n".join([*lines, wrote])


def chart_png(board: Leaderboard) -> bytes:
    """Accuracy against p50 latency (log scale); marker area grows with size; the Pareto front
    as a line; the pick circled; quantized variants as triangles."""
    rows = board.candidates()
    figure = new_figure(9.0, 4.8, dpi=110)
    axis = figure.subplots()
    for family in dict.fromkeys(r["family"] for r in rows):
        for variant, marker in (("trained", "o"), ("quantized", "^")):
            points = [
                r
                for r in rows
                if r["family"] == family and (r["variant"] == "trained") == (variant == "trained")
            ]
            if not points:
                continue
            axis.scatter(
                [r["latency_ms_p50"] for r in points],
                [r["accuracy"] for r in points],
                s=[marker_area(r["size_mb"]) for r in points],
                color=FAMILY_COLOURS.get(family, "#57606a"),
                marker=marker,
                alpha=0.55,
                edgecolors="white",
                linewidths=0.5,
                label=family if variant == "trained" else f"{family} (quantized)",
                zorder=3,
            )
    front = sorted((r for r in rows if r.get("pareto")), key=lambda r: r["latency_ms_p50"])
    axis.step(
        [r["latency_ms_p50"] for r in front],
        [r["accuracy"] for r in front],
        where="post",
        color="#24292f",
        alpha=0.6,
        linewidth=1.2,
        label="Pareto front",
        zorder=2,
    )
    for size in (0.01, 0.1, 1, 10, 100):  # the scale of the markers' areas, in the legend
        if rows and min(r["size_mb"] for r in rows) / 3 <= size <= 3 * max(
            r["size_mb"] for r in rows
        ):
            axis.scatter([], [], s=marker_area(size), color="#d0d7de", label=f"{size:g} MB")
    _mark(axis, board)
    _style(axis, rows)
    figure.tight_layout()
    return png_bytes(figure)


def _mark(axis: Any, board: Leaderboard) -> None:
    """Circle and name the pick (and the most accurate model, when another)."""
    marks = [(board.recommendation, "pick")]
    if board.best != board.recommendation:
        marks.append((board.best, "most accurate"))
    for name, text in marks:
        if name is None:
            continue
        r = board.row(name)
        axis.scatter(r["latency_ms_p50"], r["accuracy"], s=260, facecolors="none",
                     edgecolors="#cf222e", linewidths=2, zorder=4)  # fmt: skip
        axis.annotate(
            f"{text}: {name}",
            (r["latency_ms_p50"], r["accuracy"]),
            textcoords="offset points",
            xytext=(10, -14 if text == "pick" else 8),
            color="#cf222e",
            fontsize=9,
        )


def _style(axis: Any, rows: list[dict[str, Any]]) -> None:
    """Log-scale latency axis with plain numbers, labels, and the legend beside the plot."""
    # deferred with matplotlib (see _figures)
    from matplotlib.collections import PathCollection
    from matplotlib.ticker import FuncFormatter

    axis.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.xaxis.set_major_formatter(plain)
    latencies = [r["latency_ms_p50"] for r in rows]
    if latencies and max(latencies) < 10 * min(latencies):  # under a decade: label the minors
        axis.xaxis.set_minor_formatter(plain)
        axis.tick_params(axis="x", which="minor", labelsize=7)
    axis.margins(0.12)
    axis.set(
        xlabel="p50 latency for one text (ms, log scale)",
        ylabel="validation accuracy",
        title="Every trial: accuracy against latency (marker area: size on disk)",
    )
    axis.grid(alpha=0.3)
    legend = axis.legend(
        fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), labelspacing=1.2
    )
    for handle, entry in zip(legend.legend_handles, legend.get_texts(), strict=True):
        if not entry.get_text().endswith(" MB") and isinstance(handle, PathCollection):
            handle.set_sizes([40])  # a family's colour, not its first marker's size


def marker_area(size_mb: float) -> float:
    """A marker's area (points²) for a model of ``size_mb``: grows with the size, on a log
    scale so that a 0.1 MB model stays visible beside a 100 MB one."""
    return 20 + 70 * math.log2(1 + size_mb / 0.05)


def _interval(row: dict[str, Any]) -> str:
    return f"{row['accuracy_ci95'][0]:.3f}–{row['accuracy_ci95'][1]:.3f}"


def _settings(params: dict[str, Any]) -> str:
    return (
        ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        or "defaults"
    )


def render_html(board: Leaderboard) -> str:
    """The page: the pick and its reason, the chart, per-family bests, importances, all rows."""
    pick = board.row(board.recommendation) if board.recommendation else None
    cards = _html.cards(
        [
            ("pick", board.recommendation or "none"),
            ("accuracy", _html.fmt(pick["accuracy"]) if pick else "–"),
            ("size", f"{pick['size_mb']:.3g} MB" if pick else "–"),
            ("p50 latency", f"{pick['latency_ms_p50']:.3g} ms" if pick else "–"),
            ("time", f"{board.elapsed_s:.0f} s of {board.budget_s:.0f} s"),
        ]
    )
    body = (
        cards
        + f"<p>{_html.esc(board.reason)}</p>"
        + f'<p class="muted">Scored on {_html.esc(board.scoring)}; paired test: '
        + f"{_html.esc(board.test)}.</p>"
        + _html.section(
            "chart", "Accuracy, latency and size", _html.image(chart_png(board), "trials")
        )
        + _html.section("families", "Each family's best", _family_table(board))
        + _html.section("importances", "Parameter importances (Optuna)", _importances(board))
        + _html.section("trials", "Every trial", _trials_table(board))
    )
    return _html.page("Model selection", body, subtitle=f"on {board.data}")


def _family_table(board: Leaderboard) -> str:
    rows = []
    for family, entry in board.families().items():
        trials = ", ".join(f"{n} {state}" for state, n in entry["trials"].items()) or "none"
        b = entry["best"]
        figures = (
            [
                b["name"],
                _html.fmt(b["accuracy"]),
                _interval(b),
                f"{b['size_mb']:.3g}",
                f"{b['latency_ms_p50']:.3g}",
                _settings(b["params"]),
            ]
            if b
            else ["–"] * 5 + [entry.get("skipped", "no completed trial")]
        )
        rows.append([family, trials, *figures])
    return _html.table(
        ["family", "trials", "best", "accuracy", "95% interval", "MB", "p50 ms", "settings"],
        rows,
        numeric=(3, 5, 6),
    )


def _importances(board: Leaderboard) -> str:
    if not board.importances:
        return '<p class="muted">No family had the three searched trials that importances need.</p>'
    return _html.table(
        ["family", "parameter", "importance"],
        [
            [family, param, f"{value:.3f}"]
            for family, values in board.importances.items()
            for param, value in values.items()
        ],
        numeric=(2,),
    )


def _trials_table(board: Leaderboard) -> str:
    rows = []
    for r in board.candidates() + [r for r in board.rows if r["state"] != "complete"]:
        figures = (
            [
                _html.fmt(r["accuracy"]),
                _interval(r),
                "–" if r.get("p_value") is None else f"{r['p_value']:.3g}",
                f"{r['size_mb']:.3g}",
                f"{r['latency_ms_p50']:.3g}",
                f"{r.get('fit_seconds', 0):.2f}",
            ]
            if r["state"] == "complete"
            else ["–"] * 6
        )
        rows.append(
            [
                r["name"] + (" ★" if r["name"] == board.recommendation else ""),
                r["state"] + (" (Pareto)" if r.get("pareto") else ""),
                *figures,
                r.get("note") or _settings(r["params"]),
            ]
        )
    return _html.table(
        ["trial", "state", "accuracy", "95% interval", "p", "MB", "p50 ms", "fit s", "settings"],
        rows,
        numeric=(2, 4, 5, 6, 7),
        compact=True,
    )
