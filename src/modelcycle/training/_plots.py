"""The training-curve plot: loss and validation accuracy per epoch, one line per run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelcycle._figures import new_figure, png_bytes


def training_curve_png(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes | None:
    """A PNG with two panels (training loss, validation accuracy); None when nothing to plot."""
    runs = {name: list(history) for name, history in histories.items() if history}
    if not runs:
        return None
    figure = new_figure(10, 3.8, dpi=110)
    loss_axis, val_axis = figure.subplots(1, 2)
    for name, history in runs.items():
        epochs = [h["epoch"] for h in history]
        loss_axis.plot(epochs, [h["loss"] for h in history], marker="o", label=name)
        if any("val_accuracy" in h for h in history):
            val_axis.plot(epochs, [h.get("val_accuracy") for h in history], marker="o", label=name)
    loss_axis.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    val_axis.set(title="validation accuracy", xlabel="epoch", ylabel="accuracy")
    for axis in (loss_axis, val_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
        if len(runs) > 1 or axis is loss_axis:
            axis.legend(fontsize=8)
    figure.tight_layout()
    return png_bytes(figure)
