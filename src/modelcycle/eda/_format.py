"""What the sections of ``eda.html`` share: numbers, shares, figures, examples, tables."""

from __future__ import annotations

from typing import Any

from modelcycle import _html
from modelcycle._html import Html, esc
from modelcycle.eda._plots import Figure_

STATS = ("count", "mean", "std", "min", "p25", "p50", "p75", "max")


def num(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def figure_html(
    figures: dict[str, Any], name: str, caption: str = "", width: int | None = None
) -> str:
    found = figures.get(name)
    if not isinstance(found, Figure_):
        return ""
    return _html.figure(found.uri, found.alt, caption=caption or found.alt, width=width)


def examples_html(items: list[dict[str, Any]], summary: str = "examples") -> Html:
    if not items:
        return Html("")
    body = "".join(
        f'<div class="example"><span class="row">row {item["row"]:,}</span> '
        f"{esc(item['text'])}"
        + (
            f'<br><span class="row">same as row {item["same_as_row"]:,}</span> '
            f"{esc(item['same_as'])}"
            if "same_as_row" in item
            else ""
        )
        + "</div>"
        for item in items
    )
    return Html(f"<details><summary>{esc(summary)}</summary>{body}</details>")


def bar(share: float) -> Html:
    return Html(f'<span class="bar" style="width:{max(share, 0) * 120:.0f}px"></span>')


def gram_table(rows: list[list[Any]], *, limit: int = 20, heading: str = "n-gram") -> str:
    if not rows:
        return '<p class="muted">none</p>'
    return _html.table(
        [heading, "count"], [[g, f"{n:,}"] for g, n in rows[:limit]], numeric=(1,), compact=True
    )


def stats_table(rows: list[tuple[str, dict[str, Any]]], first: str) -> str:
    return _html.table(
        [first, *STATS],
        [[name, *(num(stats.get(k)) for k in STATS)] for name, stats in rows],
        numeric=tuple(range(1, len(STATS) + 1)),
    )


def note_box(text: str, kind: str = "") -> str:
    return f'<div class="note {kind}">{text}</div>'
