"""Charts for the HTML reports as small SVG documents, written by hand.

matplotlib would draw them, but importing and laying out a handful of matplotlib figures costs
about a second per report, as long as the whole EDA report of a 67,000-sentence file is allowed
to take, while each chart here is a few dozen SVG elements: bars, step histograms, lines and dots
on linear or log axes, with ticks, grid, titles and a legend. ``data_uri`` embeds a chart in an
``<img>`` so that a report stays one self-contained file.

Example::

    panel = Panel(x=(0, 10), y=(0, 5), title="Lengths", xlabel="words", ylabel="texts")
    panel.stairs([1, 4, 2], [0, 3, 6, 10], PALETTE[0], fill=True)
    uri = data_uri(figure([panel], width=520, height=300))
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from html import escape

PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0550ae", "#bc4c00",
           "#6e7781", "#a40e26", "#116329"]  # fmt: skip
FONT = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#1f2328", "#59636e", "#e6e9ec"
MARGIN = (58, 14, 46, 30)  # left, right, bottom, top of a panel's plotting area, in pixels


def text_width(text: str, size: float) -> float:
    """About how wide ``text`` is in a sans-serif font of ``size`` pixels."""
    return 0.56 * size * len(text)


def number(value: float) -> str:
    """A tick label: 1,500 / 2.5 / 1.2M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


class Panel:
    """One plotting area with its axes; marks are added with ``stairs``, ``line``, ``dots``,
    ``bars`` and ``hbars`` in data coordinates."""

    def __init__(
        self,
        *,
        x: tuple[float, float],
        y: tuple[float, float],
        title: str = "",
        xlabel: str = "",
        ylabel: str = "",
        xlog: bool = False,
        ylog: bool = False,
        xticks: Sequence[tuple[float, str]] | None = None,
        yticks: Sequence[tuple[float, str]] | None = None,
        left: float = MARGIN[0],
    ) -> None:
        self.x, self.y, self.xlog, self.ylog = x, y, xlog, ylog
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.xticks = list(xticks) if xticks is not None else _ticks(x, xlog)
        self.yticks = list(yticks) if yticks is not None else _ticks(y, ylog)
        self.left = left
        self.marks: list[Callable[[], str]] = []
        self.width = self.height = 0.0  # set by figure()

    def _scale(self, value: float, span: tuple[float, float], log: bool, length: float) -> float:
        low, high = span
        if log:
            value, low, high = (math.log10(max(v, 1e-12)) for v in (value, low, high))
        return (value - low) / ((high - low) or 1.0) * length

    def px(self, value: float) -> float:
        """Horizontal pixel of a data value, inside the panel."""
        return self.left + self._scale(value, self.x, self.xlog, self.width - self.left - MARGIN[1])

    def py(self, value: float) -> float:
        """Vertical pixel of a data value, inside the panel."""
        inner = self.height - MARGIN[2] - MARGIN[3]
        return MARGIN[3] + inner - self._scale(value, self.y, self.ylog, inner)

    def stairs(
        self,
        counts: Sequence[float],
        edges: Sequence[float],
        colour: str,
        *,
        fill: bool = False,
        width: float = 1.6,
    ) -> None:
        """A step histogram: ``counts[i]`` between ``edges[i]`` and ``edges[i + 1]``."""
        self.marks.append(lambda: _stairs_path(self, counts, edges, colour, fill=fill, width=width))

    def line(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        colour: str,
        *,
        width: float = 2.0,
        dash: str = "",
    ) -> None:
        """A polyline through the points."""
        self.marks.append(lambda: _polyline(self, xs, ys, colour, width, dash))

    def vline(self, x: float, colour: str = INK, *, dash: str = "4 3") -> None:
        """A vertical line across the panel at ``x``."""
        self.marks.append(lambda: _polyline(self, [x, x], list(self.y), colour, 1.0, dash))

    def dots(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        colour: str,
        *,
        radius: float = 2.2,
        opacity: float = 0.55,
    ) -> None:
        """A scatter of small filled circles."""
        self.marks.append(lambda: _dots(self, xs, ys, colour, radius, opacity))

    def bars(
        self, xs: Sequence[float], heights: Sequence[float], colour: str, *, width: float
    ) -> None:
        """Vertical bars centred on ``xs``, ``width`` in data units."""
        self.marks.append(lambda: _bars(self, xs, heights, colour, width))

    def hbars(self, names: Sequence[str], values: Sequence[float], notes: Sequence[str]) -> None:
        """Horizontal bars, one per name from the top, each with a note after its end."""
        self.marks.append(lambda: _hbars(self, names, values, notes))

    def render(self, dx: float, width: float, height: float) -> str:
        """The panel as an SVG group placed ``dx`` pixels from the figure's left edge."""
        self.width, self.height = width, height
        bottom, top = self.py(self.y[0]), self.py(self.y[1])
        left, right = self.px(self.x[0]), self.px(self.x[1])
        parts = [f'<g transform="translate({dx:.1f},0)">']
        for value, label in self.yticks:
            y = self.py(value)
            parts.append(_segment(left, y, right, y, GRID))
            parts.append(_text(left - 6, y + 4, label, anchor="end", size=11, colour=MUTED))
        for value, label in self.xticks:
            x = self.px(value)
            parts.append(_segment(x, top, x, bottom, GRID))
            parts.append(_text(x, bottom + 16, label, anchor="middle", size=11, colour=MUTED))
        parts.append(_segment(left, bottom, right, bottom, "#8c959f"))
        parts.append(_segment(left, top, left, bottom, "#8c959f"))
        parts.extend(mark() for mark in self.marks)
        if self.title:
            centre = (left + right) / 2
            parts.append(_text(centre, 17, self.title, anchor="middle", size=13, weight="600"))
        if self.xlabel:
            centre = (left + right) / 2
            parts.append(_text(centre, height - 8, self.xlabel, anchor="middle", size=11.5))
        if self.ylabel:
            y = (top + bottom) / 2
            parts.append(
                f'<text transform="translate(13,{y:.1f}) rotate(-90)" text-anchor="middle" '
                f'font-size="11.5" fill="{INK}">{escape(self.ylabel)}</text>'
            )
        parts.append("</g>")
        return "".join(parts)


def figure(
    panels: Sequence[Panel],
    *,
    width: float,
    height: float,
    legend: Sequence[tuple[str, str]] = (),
    alt: str = "",
) -> str:
    """Panels side by side in one SVG document, with an optional legend of (label, colour) at
    the top right of the first panel."""
    each = width / max(len(panels), 1)
    body = "".join(panel.render(i * each, each, height) for i, panel in enumerate(panels))
    if legend and panels:
        first = panels[0]
        x = first.px(first.x[1]) - 6
        rows = []
        for i, (label, colour) in enumerate(legend):
            y = MARGIN[3] + 12 + i * 16
            rows.append(
                f'<rect x="{x - 14:.1f}" y="{y - 8:.1f}" width="12" height="10" rx="2" '
                f'fill="{colour}"/>' + _text(x - 20, y + 1, label, anchor="end", size=11.5)
            )
        body += "".join(rows)
    title = f"<title>{escape(alt)}</title>" if alt else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{escape(FONT)}">{title}'
        f'<rect width="100%" height="100%" fill="#fff"/>{body}</svg>'
    )


def data_uri(svg: str) -> str:
    """An SVG document as a ``data:`` URI for ``<img src=...>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def log_ticks(span: tuple[float, float]) -> list[tuple[float, str]]:
    """Powers of ten within ``span``, labelled 1, 10, 100, 1k, 10k, ..."""
    low, high = span
    ticks = []
    power = math.floor(math.log10(max(low, 1e-12)))
    while 10**power <= high * 1.0001:
        value = 10.0**power
        if value >= low * 0.9999:
            ticks.append((value, _short_number(value)))
        power += 1
    return ticks


def _short_number(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def _ticks(span: tuple[float, float], log: bool) -> list[tuple[float, str]]:
    if log:
        return log_ticks(span)
    return [(v, number(v)) for v in nice_ticks(*span) if span[0] <= v <= span[1]]


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: float = 12,
    colour: str = INK,
    weight: str = "400",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{colour}">{escape(text)}</text>'
    )


def _segment(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
        'stroke-width="1"/>'
    )


def _stairs_path(
    panel: Panel,
    counts: Sequence[float],
    edges: Sequence[float],
    colour: str,
    *,
    fill: bool,
    width: float,
) -> str:
    base = panel.py(max(panel.y[0], 0))
    points = [f"M{panel.px(edges[0]):.1f},{base:.1f}"]
    for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
        y = panel.py(min(count, panel.y[1]))
        points.append(f"L{panel.px(left):.1f},{y:.1f}L{panel.px(right):.1f},{y:.1f}")
    points.append(f"L{panel.px(edges[-1]):.1f},{base:.1f}")
    if fill:
        return f'<path d="{"".join(points)}Z" fill="{colour}" stroke="none"/>'
    return (
        f'<path d="{"".join(points)}" fill="none" stroke="{colour}" stroke-width="{width}" '
        'stroke-linejoin="round"/>'
    )


def _polyline(
    panel: Panel, xs: Sequence[float], ys: Sequence[float], colour: str, width: float, dash: str
) -> str:
    points = " ".join(f"{panel.px(x):.1f},{panel.py(y):.1f}" for x, y in zip(xs, ys, strict=True))
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}" '
        f'stroke-linejoin="round"{dashes}/>'
    )


def _dots(
    panel: Panel,
    xs: Sequence[float],
    ys: Sequence[float],
    colour: str,
    radius: float,
    opacity: float,
) -> str:
    circles = "".join(
        f'<circle cx="{panel.px(x):.1f}" cy="{panel.py(y):.1f}" r="{radius}"/>'
        for x, y in zip(xs, ys, strict=True)
    )
    return f'<g fill="{colour}" fill-opacity="{opacity}">{circles}</g>'


def _bars(
    panel: Panel, xs: Sequence[float], heights: Sequence[float], colour: str, width: float
) -> str:
    base = panel.py(max(panel.y[0], 0))
    rects = []
    for x, h in zip(xs, heights, strict=True):
        left, right, top = panel.px(x - width / 2), panel.px(x + width / 2), panel.py(h)
        rects.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
            f'height="{max(base - top, 0):.1f}"/>'
        )
    return f'<g fill="{colour}">{"".join(rects)}</g>'


def _hbars(
    panel: Panel, names: Sequence[str], values: Sequence[float], notes: Sequence[str]
) -> str:
    inner = panel.height - MARGIN[2] - MARGIN[3]
    step = inner / max(len(names), 1)
    parts = []
    for i, (name, value, note) in enumerate(zip(names, values, notes, strict=True)):
        top = MARGIN[3] + i * step + step * 0.18
        height = step * 0.64
        left, right = panel.px(0), panel.px(value)
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(right - left, 0):.1f}" '
            f'height="{height:.1f}" fill="{colour}" rx="2"/>'
        )
        middle = top + height / 2 + 4
        parts.append(_text(left - 6, middle, name, anchor="end", size=12))
        parts.append(_text(right + 5, middle, note, size=11.5, colour=MUTED))
    return "".join(parts)
