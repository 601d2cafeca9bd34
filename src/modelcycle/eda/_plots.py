"""The report's figures: matplotlib (Agg) and wordcloud, each as an embeddable PNG data URI.

matplotlib and wordcloud are imported here, inside ``draw``, so that importing modelcycle (or
computing a profile for its JSON only) never loads them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from modelcycle.eda._profile import PlotData

PALETTE = [
    "#0969da",
    "#cf222e",
    "#1a7f37",
    "#8250df",
    "#bf8700",
    "#0550ae",
    "#bc4c00",
    "#6e7781",
    "#a40e26",
    "#116329",
]
GREY = "#8c959f"
WIDTH = 10.4  # inches at 100 dpi: the width of the report's column


@dataclass(frozen=True)
class Figure_:
    """One drawn figure: a PNG data URI and the text a reader needs to read it."""

    uri: str
    alt: str


STYLE: dict[str, Any] = {
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e9ec",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "axes.edgecolor": "#8c959f",
    "legend.frameon": False,
}


def prepare() -> None:
    """Import the plotting libraries (about half a second), e.g. in a thread while counting."""
    import matplotlib.figure  # noqa: F401
    import wordcloud  # noqa: F401


def draw(plots: PlotData) -> dict[str, Any]:
    """Every figure of the report, by name: ``Figure_`` or, for per-label clouds, a dict."""
    import matplotlib

    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        return _draw(plots)


def _draw(plots: PlotData) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if plots.label_counts:
        figures["labels"] = _labels(plots)
    figures["lengths"] = _lengths(plots)
    figures["vocabulary"] = _vocabulary(plots)
    if plots.word_freq:
        figures["cloud"] = _cloud(plots.word_freq, plots.seed, "Greys_r")
    figures["label_clouds"] = {
        label: _cloud(words, plots.seed, _CLOUD_MAPS[i % len(_CLOUD_MAPS)])
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


_CLOUD_MAPS = ["Blues_r", "Reds_r", "Greens_r", "Purples_r", "Oranges_r", "BuGn_r"]


def _uri(figure: Figure, alt: str) -> Figure_:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return Figure_("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), alt)


def _new(
    width: float,
    height: float,
    columns: int = 1,
    *,
    left: float = 0.75,
    bottom: float = 0.5,
    right: float = 0.15,
    top: float = 0.35,
) -> tuple[Figure, list[Axes]]:
    """A figure with fixed margins in inches: a layout engine would measure every label and
    double the time it takes to draw."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=left / width,
        bottom=bottom / height,
        right=1 - right / width,
        top=1 - top / height,
        wspace=0.25,
    )
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, list(axes)


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _labels(plots: PlotData) -> Figure_:
    names = list(plots.label_counts)[:30]
    counts = [plots.label_counts[n] for n in names]
    total = sum(plots.label_counts.values())
    longest = max(len(_short(n, 28)) for n in names)
    figure, (ax,) = _new(5.2, 0.95 + 0.34 * len(names), left=0.25 + 0.068 * longest)
    positions = np.arange(len(names))[::-1]
    ax.barh(positions, counts, color=[_colour(i) for i in range(len(names))], height=0.66)
    ax.set_yticks(positions, [_short(n, 28) for n in names])
    ax.grid(axis="y", visible=False)
    for y, count in zip(positions, counts, strict=True):
        ax.text(count, y, f"  {count:,} ({count / total:.1%})", va="center", fontsize=9)
    ax.set_xlim(0, max(counts) * 1.3)
    ax.set_xlabel("texts")
    ax.set_title("Texts per label")
    more = f" (the largest 30 of {len(plots.label_counts)})" if len(plots.label_counts) > 30 else ""
    return _uri(figure, f"Bar chart of the number of texts per label{more}.")


def _lengths(plots: PlotData) -> Figure_:
    figure, axes = _new(WIDTH, 3.3, columns=2)
    for ax, values, unit in zip(
        axes, (plots.chars, plots.words), ("characters", "words"), strict=True
    ):
        values = values.astype(np.float64)
        if len(values) == 0:
            continue
        upper = max(float(np.percentile(values, 99)), 1.0)
        bins = np.linspace(0, upper, 50).tolist()
        clipped = np.clip(values, 0, upper)
        ax.hist(clipped, bins=bins, color="#d0d7de", label="all texts")
        if len(plots.labels) > 1:
            for i, label in enumerate(plots.labels[:8]):
                ax.hist(
                    clipped[plots.label_codes == i],
                    bins=bins,
                    histtype="step",
                    linewidth=1.6,
                    color=_colour(i),
                    label=_short(label, 20),
                )
        ax.axvline(np.median(values), color="#24292f", linestyle="--", linewidth=1)
        ax.set_xlabel(f"length in {unit} (last bin: 99th percentile and above)")
        ax.set_ylabel("texts")
        ax.set_title(f"Length in {unit}")
    axes[0].legend(fontsize=8.5)
    return _uri(
        figure,
        "Histograms of text length in characters and in words, all texts (grey) and per label "
        "(lines); the dashed line is the median.",
    )


def _vocabulary(plots: PlotData) -> Figure_:
    figure, axes = _new(WIDTH, 3.1, columns=2)
    growth = np.array(plots.growth, dtype=np.float64).reshape(-1, 2)
    ax = axes[0]
    ax.plot(np.r_[0, growth[:, 0]], np.r_[0, growth[:, 1]], color=PALETTE[0], linewidth=2)
    ax.set_xlabel("word tokens read (in file order)")
    ax.set_ylabel("distinct words")
    ax.set_title("Vocabulary growth")
    ax.ticklabel_format(style="plain")
    _thousands(ax)
    ax = axes[1]
    if len(plots.rank_frequency):
        ax.loglog(
            plots.rank_frequency[:, 0], plots.rank_frequency[:, 1], color=PALETTE[1], linewidth=2
        )
    ax.set_xlabel("rank of the word")
    ax.set_ylabel("occurrences")
    ax.set_title("Rank–frequency (Zipf)")
    return _uri(
        figure,
        "Left: distinct words against word tokens read; a curve still rising at the end means "
        "more data keeps bringing new words. Right: occurrences of each word against its rank, "
        "log-log.",
    )


def _thousands(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda value, _: f"{value:,.0f}")
    ax.xaxis.set_major_formatter(formatter)
    ax.yaxis.set_major_formatter(formatter)


def _cloud(words: Mapping[str, float], seed: int, colormap: str) -> Figure_:
    from wordcloud import WordCloud

    cloud = WordCloud(
        width=560,
        height=280,
        max_words=100,
        background_color="white",
        colormap=colormap,
        prefer_horizontal=0.95,
        random_state=seed,
        relative_scaling=0.45,
        margin=3,
    ).generate_from_frequencies({w: float(v) for w, v in words.items() if v > 0})
    buffer = io.BytesIO()
    cloud.to_image().save(buffer, format="PNG", optimize=False)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    top = ", ".join(list(words)[:8])
    return Figure_(uri, f"Word cloud; the largest words: {top}.")


def _document_map(plots: PlotData) -> Figure_:
    points = plots.map_points
    assert points is not None
    figure, (ax,) = _new(6.4, 4.6)
    labels = np.array(plots.sample_labels or ["texts"] * len(points), dtype=object)
    names = [n for n in plots.labels if n in set(labels.tolist())] or ["texts"]
    for i, name in enumerate(names[:10]):
        where = labels == name
        ax.scatter(
            points[where, 0],
            points[where, 1],
            s=7,
            alpha=0.55,
            color=_colour(i),
            label=_short(name, 20),
            linewidths=0,
        )
    ax.set_xlabel("SVD component 1")
    ax.set_ylabel("SVD component 2")
    ax.set_title(f"{len(points):,} texts, TF-IDF → truncated SVD")
    if len(names) > 1:
        ax.legend(markerscale=2.5, fontsize=8.5)
    return _uri(
        figure,
        f"Scatter plot of {len(points):,} sampled texts in two dimensions (TF-IDF of words "
        "without stop words, reduced by truncated SVD), coloured by label.",
    )


def _numeric(plots: PlotData) -> Figure_:
    names = list(plots.numeric)[:4]
    figure, axes = _new(WIDTH, 3.2, columns=len(names))
    labels = np.array(plots.sample_labels or ["texts"] * len(plots.numeric_words), dtype=object)
    groups = [n for n in plots.labels if n in set(labels.tolist())] or ["texts"]
    for ax, name in zip(axes, names, strict=True):
        values = plots.numeric[name].astype(np.float64)
        for i, group in enumerate(groups[:10]):
            where = labels == group
            ax.scatter(
                plots.numeric_words[where],
                values[where],
                s=7,
                alpha=0.5,
                color=_colour(i),
                label=_short(group, 20),
                linewidths=0,
            )
        ax.set_xlabel("length in words")
        ax.set_ylabel(name)
        ax.set_title(f"{_short(name, 24)} against text length")
    if len(groups) > 1:
        axes[0].legend(markerscale=2.5, fontsize=8.5)
    return _uri(
        figure,
        "Scatter plots of each numeric column against text length in words, coloured by label.",
    )


def _compare(plots: PlotData) -> Figure_:
    other = plots.other
    assert other is not None
    figure, axes = _new(WIDTH, 3.2, columns=2)
    ax = axes[0]
    upper = max(float(np.percentile(np.r_[plots.words, other["words"]], 99)), 1.0)
    bins = np.linspace(0, upper, 45).tolist()
    for values, name, colour in (
        (plots.words, "data", PALETTE[0]),
        (other["words"], other["name"], PALETTE[1]),
    ):
        ax.hist(
            np.clip(values, 0, upper),
            bins=bins,
            density=True,
            histtype="step",
            linewidth=1.8,
            color=colour,
            label=_short(name, 24),
        )
    ax.set_xlabel("length in words")
    ax.set_ylabel("share of texts (density)")
    ax.set_title("Length: data and the other file")
    ax.legend(fontsize=8.5)
    ax = axes[1]
    shares: dict[str, Sequence[float]] = other["shares"]
    names = list(shares)[:15]
    positions = np.arange(len(names))
    ax.bar(
        positions - 0.2, [shares[n][0] for n in names], width=0.4, color=PALETTE[0], label="data"
    )
    ax.bar(
        positions + 0.2,
        [shares[n][1] for n in names],
        width=0.4,
        color=PALETTE[1],
        label=_short(other["name"], 24),
    )
    ax.set_xticks(positions, [_short(n, 14) for n in names])
    ax.set_ylabel("share of texts")
    ax.set_ylim(0, max(max(v) for v in shares.values()) * 1.25)
    ax.set_title("Label shares")
    ax.legend(fontsize=8.5, ncols=2, loc="upper center")
    return _uri(
        figure,
        "Left: length in words of the data and of the other file, as densities. Right: the share "
        "of each label in both.",
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
