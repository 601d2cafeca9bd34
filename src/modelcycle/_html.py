"""The small HTML kit every report uses: one page shell with inline CSS, tables, escaping.

Written by hand because reports must be single self-contained files that open offline; a
template engine would add a dependency for a few string joins.
"""

from __future__ import annotations

import base64
import html
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle._version import __version__

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa;
        --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 64px; }
header { border-bottom: 1px solid var(--line); margin-bottom: 8px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.sub, .muted { color: var(--muted); }
a { color: var(--accent); }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px;
        background: var(--soft); }
.card .value { font-size: 24px; font-weight: 600; }
.card .label { color: var(--muted); font-size: 13px; }
img { max-width: 100%; height: auto; }
code { background: var(--soft); padding: 1px 5px; border-radius: 4px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
nav { display: flex; flex-wrap: wrap; gap: 2px 0; margin: 6px 0 10px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr));
        gap: 4px 24px; align-items: start; }
.grid > div > h3:first-child { margin-top: 6px; }
.grid table { width: 100%; }
table.compact { font-size: 13.5px; }
table.compact th, table.compact td { padding: 3px 8px; }
figure { margin: 12px 0 20px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 820px; }
.note { border-left: 4px solid var(--accent); background: var(--soft); padding: 8px 14px;
        margin: 10px 0; border-radius: 0 6px 6px 0; }
.note.warn { border-left-color: #bf8700; background: #fff8c5; }
.note.ok { border-left-color: #1a7f37; background: #dafbe1; }
details summary { cursor: pointer; color: var(--accent); }
details .example { margin: 4px 0; padding: 4px 8px; background: var(--soft); border-radius: 4px;
                   font-size: 13px; white-space: pre-wrap; word-break: break-word; }
.example .row { color: var(--muted); font-variant-numeric: tabular-nums; }
ul.findings { list-style: none; padding-left: 0; margin: 8px 0 16px; }
ul.findings li { margin: 4px 0; padding-left: 4px; }
ul.findings li.warn { color: #7d4e00; }
ul.findings li.ok { color: #1a7f37; }
.bar { display: inline-block; height: 9px; background: var(--accent); border-radius: 2px;
       vertical-align: middle; margin-right: 6px; opacity: .75; }
"""


class Html(str):
    """Markup that is already safe: table cells of this type are not escaped again."""


def esc(value: object) -> str:
    """HTML-escape the text of ``value`` (``Html`` passes through unchanged)."""
    if isinstance(value, Html):
        return value
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, subtitle: str = "", nav: Sequence[tuple[str, str]] = ()) -> str:
    """A complete, self-contained HTML document."""
    links = "".join(f'<a href="{esc(href)}">{esc(text)}</a>' for text, href in nav)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<header><h1>{esc(title)}</h1>"
        + (f'<p class="sub">{esc(subtitle)}</p>' if subtitle else "")
        + (f"<nav>{links}</nav>" if links else "")
        + f"</header>{body}<footer>modelcycle {esc(__version__)} · {stamp}</footer>"
        "</main></body></html>\n"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[int] = (),
    compact: bool = False,
) -> str:
    """A table; columns listed in ``numeric`` are right-aligned. Cells are escaped unless they
    are ``Html``; ``compact`` uses a smaller font for long lists."""

    def cell(tag: str, index: int, value: object) -> str:
        cls = ' class="num"' if index in numeric else ""
        return f"<{tag}{cls}>{esc(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    cls = ' class="compact"' if compact else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cards(items: Iterable[tuple[str, object]]) -> str:
    """Headline figures as a row of cards: ``(label, value)`` pairs."""
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{esc(value)}</div>'
            f'<div class="label">{esc(label)}</div></div>'
            for label, value in items
        )
        + "</div>"
    )


def image(png: bytes, alt: str) -> str:
    """An embedded PNG (a data URI), so that the page stays one self-contained file."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for display; ``None`` as an en dash."""
    return "–" if value is None else f"{value:.{digits}f}"


def figure(uri: str, alt: str, *, caption: str = "", width: int | None = None) -> str:
    """An embedded image (a ``data:`` URI) with its alternative text and an optional caption."""
    size = f' style="width:{width}px"' if width else ""
    note = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{esc(uri)}" alt="{esc(alt)}"{size}>{note}</figure>'


def section(anchor: str, title: str, body: str) -> str:
    """A titled part of a report; ``anchor`` is its id, for links from the page's nav."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


class HtmlReport(ABC):
    """A report written as one JSON file and one self-contained HTML page.

    Subclasses name the two files and define ``to_json`` and ``to_html``; ``write`` is shared.
    """

    json_file: ClassVar[str]
    html_file: ClassVar[str]

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The JSON file's content."""

    @abstractmethod
    def to_html(self) -> str:
        """The HTML page."""

    def write(self, out_dir: str | Path) -> Path:
        """Write the JSON file and the HTML page into ``out_dir`` atomically."""
        out_dir = Path(out_dir)
        text = self.to_html()
        with atomic_dir(out_dir, replace_if=self.json_file) as tmp:
            write_json(tmp / self.json_file, self.to_json())
            write_text(tmp / self.html_file, text)
        return out_dir
