"""Matplotlib figures rendered to PNG bytes, without pyplot and without touching matplotlib's
global backend: a ``matplotlib.figure.Figure`` on its own ``FigureCanvasAgg``.

Every PNG of the reports (evaluation, training curves, leaderboard) is made here. matplotlib is
imported when the first figure is made, not with this module: the import takes about half a
second, which ``modelcycle --help`` and the serving image should not pay.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(
    width: float,
    height: float,
    *,
    dpi: float = 100,
    layout: Literal["constrained", "tight"] | None = None,
) -> Figure:
    """An empty ``width`` × ``height`` inch figure drawn by Agg (add axes with ``add_subplot``
    or ``subplots``)."""
    # deferred for start-up time (see the module's docstring)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes, at the figure's own dpi."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
