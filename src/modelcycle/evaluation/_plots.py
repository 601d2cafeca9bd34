"""The evaluation report's figures as PNG bytes (drawn by :mod:`modelcycle._figures`), and the
per-row scores the curves are drawn from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from modelcycle._figures import new_figure, png_bytes

BLUE, ORANGE, GREEN, GREY = "#0969da", "#d4731b", "#1a7f37", "#8c959f"
MAX_CURVES = 10


@dataclass(frozen=True)
class Scores:
    """What the report's curves are drawn from: true labels and probabilities per row."""

    truth: np.ndarray
    proba: np.ndarray
    raw_proba: np.ndarray
    classes: list[str]


def confusion_png(labels: Sequence[str], matrix: np.ndarray) -> bytes:
    """Two heat maps side by side: counts, and shares of each true label's row."""
    matrix = np.asarray(matrix)
    k = len(labels)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = min(max(2.8, 0.5 * k + 1.4), 9.0)
    names = [_short(x) for x in labels]
    # Tick labels sit about 0.8 inch apart at this size: turn them when they would touch.
    turn = max(len(n) for n in names) * 0.08 > side / k
    figure = new_figure(2 * side + 1.2, side + (0.5 if turn else 0), layout="constrained")
    for axis, values, title, as_share in (
        (figure.add_subplot(1, 2, 1), matrix, "counts", False),
        (figure.add_subplot(1, 2, 2), shares, "share of the true label's row", True),
    ):
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        axis.set_title(title, fontsize=11)
        axis.set_xticks(
            range(k),
            names,
            rotation=35 if turn else 0,
            ha="right" if turn else "center",
            rotation_mode="anchor",
        )
        axis.set_yticks(range(k), names)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        if k <= 20:
            for i in range(k):
                for j in range(k):
                    text = f"{values[i, j]:.0%}" if as_share else f"{int(values[i, j]):,}"
                    color = "white" if shares[i, j] > 0.55 else "#1f2328"
                    axis.text(
                        j,
                        i,
                        text,
                        ha="center",
                        va="center",
                        color=color,
                        fontsize=10 if k <= 6 else 7,
                    )
    return png_bytes(figure)


def curves_png(truth: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> bytes | None:
    """ROC and precision-recall curves: the second label for two classes, one-vs-rest per class
    (the 10 largest) for more. None when no class has both positive and negative rows."""
    names = [str(c) for c in classes]
    shown = [names[1]] if len(names) == 2 else names
    values, sizes = np.unique(np.asarray(truth).astype(str), return_counts=True)
    rows = dict(zip(values.tolist(), sizes.tolist(), strict=True))  # one pass, not one per label
    counts = {name: rows.get(name, 0) for name in shown}
    shown = [n for n in sorted(shown, key=lambda n: -counts[n]) if 0 < counts[n] < len(truth)]
    shown = shown[:MAX_CURVES]
    if not shown:
        return None
    figure = new_figure(11, 4.4, layout="constrained")
    roc_axis, pr_axis = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    colors = _colors(len(shown))
    for name, color in zip(shown, colors, strict=True):
        positive = truth == name
        scores = proba[:, names.index(name)]
        fpr, tpr, _ = roc_curve(positive, scores)
        precision, recall, _ = precision_recall_curve(positive, scores)
        auc = float(np.trapezoid(tpr, fpr))
        ap = float(-np.sum(np.diff(recall) * precision[:-1]))
        label = _short(name)
        roc_axis.plot(fpr, tpr, color=color, lw=1.8, label=f"{label} (AUC {auc:.3f})")
        pr_axis.plot(
            recall,
            precision,
            color=color,
            lw=1.8,
            drawstyle="steps-post",
            label=f"{label} (AP {ap:.3f})",
        )
        if len(shown) == 1:
            prevalence = positive.mean()
            pr_axis.axhline(
                prevalence, color=GREY, ls="--", lw=1, label=f"chance ({prevalence:.2f})"
            )
    roc_axis.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1, label="chance")
    roc_axis.set(
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    roc_axis.set_title(
        "ROC curve" + (f": {_short(shown[0])}" if len(shown) == 1 else " (one-vs-rest)"),
        fontsize=11,
    )
    pr_axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
    pr_axis.set_title(
        "precision-recall curve"
        + (f": {_short(shown[0])}" if len(shown) == 1 else " (one-vs-rest)"),
        fontsize=11,
    )
    for axis in (roc_axis, pr_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="lower right" if axis is roc_axis else "lower left")
    return png_bytes(figure)


def reliability_png(curves: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> bytes:
    """A reliability diagram (accuracy against confidence per bin, the diagonal is perfect
    calibration) over a histogram of how many answers fall in each bin. ``curves``: ``(name,
    bins)`` pairs, such as raw and temperature-scaled."""
    figure = new_figure(6.4, 5.6, layout="constrained")
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1.1), hspace=0.08)
    diagram = figure.add_subplot(grid[0])
    histogram = figure.add_subplot(grid[1], sharex=diagram)
    diagram.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1, label="perfect calibration")
    width = 1.0 / max(len(curves[0][1]), 1) / (len(curves) + 0.5)
    for index, ((name, bins), color) in enumerate(zip(curves, (BLUE, ORANGE), strict=False)):
        filled = [b for b in bins if b["count"]]
        diagram.plot(
            [b["confidence"] for b in filled],
            [b["accuracy"] for b in filled],
            marker="o",
            color=color,
            lw=1.8,
            label=name,
        )
        centers = [b["low"] + (index + 0.75) * width for b in bins]
        histogram.bar(centers, [b["count"] for b in bins], width=width, color=color, alpha=0.8)
    diagram.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.01))
    diagram.set_title("reliability: does a confidence of p mean right p of the time?", fontsize=11)
    diagram.tick_params(labelbottom=False)
    diagram.grid(alpha=0.3)
    diagram.legend(fontsize=8, loc="upper left")
    histogram.set(xlabel="confidence (probability of the answer given)", ylabel="answers")
    histogram.grid(alpha=0.3)
    return png_bytes(figure)


def threshold_png(
    table: dict[str, np.ndarray], positive: str, marks: Sequence[tuple[str, float]]
) -> bytes:
    """Precision, recall and F1 of answering ``positive`` at every threshold, with ``marks``
    (name, threshold) drawn as vertical lines."""
    figure = new_figure(8, 4, layout="constrained")
    axis = figure.add_subplot(1, 1, 1)
    for key, color in (("precision", BLUE), ("recall", ORANGE), ("f1", GREEN)):
        axis.plot(
            table["threshold"], table[key], color=color, lw=1.8, label="F1" if key == "f1" else key
        )
    for (name, value), style in zip(marks, ("--", ":"), strict=False):
        axis.axvline(value, color="#1f2328", ls=style, lw=1.2, label=f"{name} ({value:.3f})")
    axis.set(
        xlabel=f"threshold on the probability of {_short(positive)!r}",
        ylabel="value",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    axis.set_title(f"answering {_short(positive)!r} when its probability ≥ threshold", fontsize=11)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower left")
    return png_bytes(figure)


def _colors(n: int) -> list[Any]:
    if n <= 3:
        return [BLUE, ORANGE, GREEN][:n]
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(i) for i in range(n)]


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
