"""The report's figures, each an embeddable SVG data URI: charts (``modelcycle._charts``) and
word clouds (``modelcycle.eda._cloud``, fed the exact counts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelcycle._charts import PALETTE, Panel, data_uri, figure, log_ticks
from modelcycle.eda._cloud import word_cloud

WIDTH = 1040  # pixels: the width of the report's column
ALL_TEXTS = "#d0d7de"
CLOUD_GREY = "#57606a"


@dataclass(frozen=True)
class PlotData:
    """What the figures are drawn from (arrays too large for the JSON)."""

    labels: list[str]
    label_counts: dict[str, int]
    chars: np.ndarray
    words: np.ndarray
    label_codes: np.ndarray
    word_freq: dict[str, int]
    label_words: dict[str, dict[str, float]]
    growth: list[list[int]]
    rank_frequency: np.ndarray  # (m, 2): rank, occurrences, at log-spaced ranks
    other: dict[str, Any] | None
    map_points: np.ndarray | None  # (sample, 2) coordinates of the sampled texts
    sample_labels: list[str]  # the label of each sampled text
    numeric: dict[str, np.ndarray]  # each numeric column on the sampled rows
    numeric_words: np.ndarray  # the length in words of the sampled rows
    seed: int


@dataclass(frozen=True)
class Figure_:
    """One drawn figure: a data URI and the text a reader needs to read it."""

    uri: str
    alt: str


def draw(plots: PlotData) -> dict[str, Any]:
    """Every figure of the report, by name: a ``Figure_``, or for ``label_clouds`` a dict of
    them by label."""
    figures: dict[str, Any] = {}
    if plots.label_counts:
        figures["labels"] = _labels(plots)
    figures["lengths"] = _lengths(plots)
    figures["vocabulary"] = _vocabulary(plots)
    if plots.word_freq:
        figures["cloud"] = _cloud(plots.word_freq, plots.seed, CLOUD_GREY)
    figures["label_clouds"] = {
        label: _cloud(words, plots.seed, _colour(i))
        for i, (label, words) in enumerate(list(plots.label_words.items())[:8])
        if words
    }
    if plots.map_points is not None:
        figures["map"] = _document_map(plots)
    if plots.numeric:
        figures["numeric"] = _numeric(plots)
    if plots.other is not None:
        figures["compare"] = _compare(plots)
    return figures


def _svg(
    panels: Sequence[Panel],
    height: float,
    alt: str,
    width: float = WIDTH,
    legend: Sequence[tuple[str, str]] = (),
) -> Figure_:
    return Figure_(
        data_uri(figure(panels, width=width, height=height, legend=legend, alt=alt)), alt
    )


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _upper(values: Sequence[float] | np.ndarray) -> float:
    """A round upper limit for an axis, a little above the largest value."""
    top = float(np.max(values)) if len(values) else 1.0
    return top * 1.08 if top > 0 else 1.0


def _labels(plots: PlotData) -> Figure_:
    names = list(plots.label_counts)[:30]
    counts = [plots.label_counts[n] for n in names]
    total = sum(plots.label_counts.values())
    longest = max(len(_short(n, 28)) for n in names)
    panel = Panel(
        x=(0, max(counts) * 1.35),
        y=(0, 1),
        title="Texts per label",
        xlabel="texts",
        yticks=[],
        left=24 + 7 * longest,
    )
    panel.hbars(
        [_short(n, 28) for n in names], counts, [f"{c:,} ({c / total:.1%})" for c in counts]
    )
    more = f" (the largest 30 of {len(plots.label_counts)})" if len(plots.label_counts) > 30 else ""
    return _svg([panel], 86 + 30 * len(names), f"Bar chart of the texts per label{more}.", 500)


def _lengths(plots: PlotData) -> Figure_:
    panels, legend = [], []
    for values, unit in ((plots.chars, "characters"), (plots.words, "words")):
        values = values.astype(np.float64)
        upper = max(float(np.percentile(values, 99)), 1.0) if len(values) else 1.0
        # lengths are whole numbers: bins of a whole width, or short lengths leave empty bins
        width = max(1, int(np.ceil(upper / 50)))
        edges = np.arange(0, upper + 2 * width, width, dtype=np.float64)
        upper = float(edges[-1])
        clipped = np.clip(values, 0, upper - width / 2)
        overall = np.histogram(clipped, edges)[0]
        panel = Panel(
            x=(0, upper),
            y=(0, _upper(overall)),
            title=f"Length in {unit}",
            xlabel=f"length in {unit} (the last bin holds the longest 1%)",
            ylabel="texts",
        )
        panel.stairs(overall.tolist(), edges.tolist(), ALL_TEXTS, fill=True)
        legend = [("all texts", ALL_TEXTS)]
        if len(plots.labels) > 1:
            for i, label in enumerate(plots.labels[:8]):
                counts = np.histogram(clipped[plots.label_codes == i], edges)[0]
                panel.stairs(counts.tolist(), edges.tolist(), _colour(i))
                legend.append((_short(label, 20), _colour(i)))
        if len(values):
            panel.vline(float(np.median(values)))
        panels.append(panel)
    return _svg(
        panels,
        330,
        "Histograms of text length in characters and in words: all texts (grey) and per label "
        "(lines); the dashed line is the median.",
        legend=legend,
    )


def _vocabulary(plots: PlotData) -> Figure_:
    growth = np.array([[0, 0], *plots.growth], dtype=np.float64)
    left = Panel(
        x=(0, max(growth[-1, 0], 1)),
        y=(0, _upper(growth[:, 1])),
        title="Vocabulary growth",
        xlabel="word tokens read (in file order)",
        ylabel="distinct words",
        left=64,
    )
    left.line(growth[:, 0].tolist(), growth[:, 1].tolist(), PALETTE[0])
    ranks = plots.rank_frequency
    span_x = (1.0, max(float(ranks[-1, 0]), 10.0)) if len(ranks) else (1.0, 10.0)
    span_y = (1.0, max(float(ranks[0, 1]), 10.0)) if len(ranks) else (1.0, 10.0)
    right = Panel(
        x=span_x,
        y=span_y,
        xlog=True,
        ylog=True,
        title="Rank–frequency (Zipf)",
        xlabel="rank of the word",
        ylabel="occurrences",
        xticks=log_ticks(span_x),
        yticks=log_ticks(span_y),
    )
    if len(ranks):
        right.line(ranks[:, 0].tolist(), ranks[:, 1].tolist(), PALETTE[1])
    return _svg(
        [left, right],
        310,
        "Left: distinct words against word tokens read; a curve still rising at the end means "
        "more data keeps bringing new words. Right: occurrences of each word against its rank, "
        "log-log.",
    )


def _cloud(words: Mapping[str, float], seed: int, colour: str) -> Figure_:
    top = ", ".join(list(words)[:8])
    alt = f"Word cloud; the largest words: {top}."
    return Figure_(data_uri(word_cloud(words, colour=colour, alt=alt, seed=seed)), alt)


def _groups(plots: PlotData, count: int) -> tuple[np.ndarray, list[str]]:
    """The label of each sampled text and the labels to draw, largest first."""
    labels = np.array(plots.sample_labels or ["texts"] * count, dtype=object)
    present = set(labels.tolist())
    return labels, [n for n in plots.labels if n in present][:10] or ["texts"]


def _document_map(plots: PlotData) -> Figure_:
    points = plots.map_points
    assert points is not None
    labels, names = _groups(plots, len(points))
    pad_x = (points[:, 0].max() - points[:, 0].min()) * 0.04 or 1.0
    pad_y = (points[:, 1].max() - points[:, 1].min()) * 0.04 or 1.0
    panel = Panel(
        x=(points[:, 0].min() - pad_x, points[:, 0].max() + pad_x),
        y=(points[:, 1].min() - pad_y, points[:, 1].max() + pad_y),
        title=f"{len(points):,} texts, TF-IDF → truncated SVD",
        xlabel="SVD component 1",
        ylabel="SVD component 2",
    )
    for i, name in enumerate(names):
        where = labels == name
        panel.dots(
            points[where, 0].tolist(), points[where, 1].tolist(), _colour(i), **_dot(len(points))
        )
    legend = [(_short(n, 20), _colour(i)) for i, n in enumerate(names)] if len(names) > 1 else []
    return _svg(
        [panel],
        460,
        f"Scatter plot of {len(points):,} sampled texts in two dimensions (TF-IDF of words "
        "without stop words, reduced by truncated SVD), coloured by label.",
        width=640,
        legend=legend,
    )


def _numeric(plots: PlotData) -> Figure_:
    names = list(plots.numeric)[:4]
    words = plots.numeric_words.astype(np.float64)
    labels, groups = _groups(plots, len(words))
    panels = []
    for name in names:
        values = plots.numeric[name].astype(np.float64)
        known = ~np.isnan(values)
        low, high = (
            (float(values[known].min()), float(values[known].max())) if known.any() else (0, 1)
        )
        pad = (high - low) * 0.06 or 1.0
        panel = Panel(
            x=(0, _upper(words)),
            y=(low - pad, high + pad),
            title=f"{_short(name, 24)} against length",
            xlabel="length in words",
            ylabel=_short(name, 24),
        )
        for i, group in enumerate(groups):
            where = (labels == group) & known
            panel.dots(
                words[where].tolist(), values[where].tolist(), _colour(i), **_dot(len(words))
            )
        panels.append(panel)
    legend = [(_short(g, 20), _colour(i)) for i, g in enumerate(groups)] if len(groups) > 1 else []
    return _svg(
        panels,
        320,
        "Scatter plots of each numeric column against text length in words, coloured by label.",
        width=min(WIDTH, 520 * len(panels)),
        legend=legend,
    )


def _dot(points: int) -> dict[str, float]:
    """Dots that stay visible when there are few and do not blot when there are many."""
    return {"radius": 3.5, "opacity": 0.8} if points < 300 else {"radius": 2.2, "opacity": 0.55}


def _compare(plots: PlotData) -> Figure_:
    other = plots.other
    assert other is not None
    name = _short(other["name"], 24)
    upper = max(float(np.percentile(np.r_[plots.words, other["words"]], 99)), 1.0)
    edges = np.linspace(0, upper, 45)
    densities = [
        np.histogram(np.clip(v, 0, upper), edges, density=True)[0]
        for v in (plots.words, other["words"])
    ]
    left = Panel(
        x=(0, upper),
        y=(0, _upper(np.r_[densities[0], densities[1]])),
        title="Length: the data and the other file",
        xlabel="length in words",
        ylabel="share of texts (density)",
        left=70,
    )
    for density, colour in zip(densities, (PALETTE[0], PALETTE[1]), strict=True):
        left.stairs(density.tolist(), edges.tolist(), colour)
    shares: dict[str, Sequence[float]] = other["shares"]
    names = list(shares)[:15]
    positions = np.arange(len(names), dtype=np.float64)
    right = Panel(
        x=(-0.6, len(names) - 0.4),
        y=(0, _upper([max(v) for v in shares.values()])),
        title="Label shares",
        ylabel="share of texts",
        xticks=[(float(i), _short(n, 14)) for i, n in enumerate(names)],
    )
    right.bars((positions - 0.2).tolist(), [shares[n][0] for n in names], PALETTE[0], width=0.4)
    right.bars((positions + 0.2).tolist(), [shares[n][1] for n in names], PALETTE[1], width=0.4)
    return _svg(
        [left, right],
        320,
        "Left: length in words of the data and of the other file, as densities. Right: the share "
        "of each label in both.",
        legend=[("data", PALETTE[0]), (name, PALETTE[1])],
    )
