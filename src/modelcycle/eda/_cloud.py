"""Word clouds as SVG text, written by hand.

The ``wordcloud`` package lays out words with a font rasteriser and paints a PNG: with the
matplotlib it imports, that is 0.3 s before the first cloud and 0.14 s per cloud, half of the
whole report on a 67,000-sentence file. Here each word is a box of its size (the Helvetica/Arial
advance widths, which SVG's ``textLength`` then holds the browser's font to) placed on a grid of
3-pixel cells: the free spot nearest the centre, found for every spot at once from the grid's
summed-area table. The words stay text: crisp at any zoom, searchable, a few kilobytes.

Example::

    svg = word_cloud({"great": 120, "film": 80, "dull": 30}, colour="#0969da", alt="Top words")
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from html import escape

import numpy as np

FONT = "Arial, Helvetica, 'Liberation Sans', sans-serif"
CELL = 3  # pixels per grid cell
PAD = 2  # pixels kept free around each word
ASCENT, DESCENT = 0.74, 0.22  # of the font size: the box a word's glyphs take above/below
LARGEST, SMALLEST = 0.2, 10.0  # the first word's size, of the cloud's height; the least size

# Advance widths of Helvetica (and metric-compatible Arial, Liberation Sans) in 1/1000 em, of
# the printable ASCII characters from " " to "~".
_WIDTHS = dict(
    zip(
        map(chr, range(32, 127)),
        [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278]
        + [556] * 10
        + [278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278]
        + [500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667]
        + [611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222]
        + [222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500]
        + [500, 334, 260, 334, 584],
        strict=True,
    )
)


def advance(word: str, size: float) -> float:
    """How wide ``word`` is at ``size`` pixels in Helvetica/Arial; letters outside ASCII count as
    their base letter, wide (East Asian) characters as one em, others as 0.6 em."""
    total = 0
    for char in word:
        width = _WIDTHS.get(char)
        if width is None:
            base = unicodedata.normalize("NFD", char)[:1]
            wide = unicodedata.east_asian_width(char) in "WF"
            width = _WIDTHS.get(base, 1000 if wide else 600)
        total += width
    return total * size / 1000


def word_cloud(
    words: Mapping[str, float],
    *,
    colour: str,
    alt: str,
    width: int = 520,
    height: int = 260,
    seed: int = 0,
) -> str:
    """An SVG document of ``words`` (largest weight first, up to 100), each sized by the square
    root of its weight against the first and shaded from ``colour`` towards black."""
    ranked = sorted(((w, v) for w, v in words.items() if v > 0), key=lambda p: -p[1])[:100]
    rows, columns = height // CELL, width // CELL
    taken = np.zeros((rows, columns), dtype=bool)
    rng = np.random.default_rng(seed)
    texts = []
    table, distance = _summed_area(taken), _distance(rows, columns)
    too_long = np.inf  # the fewest ems that found no room at the smallest size
    for word, weight in ranked:
        ems = advance(word, 1.0)  # its width at size 1: widths scale with the size
        if ems >= too_long:
            continue  # nor will this word: the canvas only fills up
        size = max(SMALLEST, LARGEST * height * float(np.sqrt(weight / ranked[0][1])))
        spot = _place(table, distance, ems * size, size)
        while spot is None and size > SMALLEST:
            size = max(SMALLEST, size * 0.85)
            spot = _place(table, distance, ems * size, size)
        if spot is None:
            too_long = min(too_long, ems)
            continue
        top, left, box_rows, box_columns = spot
        taken[top : top + box_rows, left : left + box_columns] = True
        table = _summed_area(taken)
        length = ems * size
        x = left * CELL + (box_columns * CELL - length) / 2
        y = top * CELL + PAD + ASCENT * size
        texts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:.1f}" textLength="{length:.1f}" '
            f'lengthAdjust="spacingAndGlyphs" fill="{_shade(colour, rng.random())}">'
            f"{escape(word)}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}">'
        f"<title>{escape(alt)}</title>"
        f'<rect width="100%" height="100%" fill="#fff"/>{"".join(texts)}</svg>'
    )


def _summed_area(taken: np.ndarray) -> np.ndarray:
    """The grid's summed-area table: [i, j] counts the taken cells above and left of (i, j)."""
    table = np.zeros((taken.shape[0] + 1, taken.shape[1] + 1), dtype=np.int32)
    np.cumsum(np.cumsum(taken, axis=0, dtype=np.int32), axis=1, out=table[1:, 1:])
    return table


def _distance(rows: int, columns: int) -> np.ndarray:
    """How far each cell is from the grid's centre, in shares of its height and width (an
    ellipse, so that the words fill a wide canvas)."""
    down = (np.arange(rows) + 0.5 - rows / 2) / rows
    across = (np.arange(columns) + 0.5 - columns / 2) / columns
    return down[:, None] ** 2 + across[None, :] ** 2


def _place(
    table: np.ndarray, distance: np.ndarray, length: float, size: float
) -> tuple[int, int, int, int] | None:
    """The free box for a word of ``length`` × ``size`` pixels whose centre is nearest the
    grid's, as (top, left, rows, columns) in cells, or None where none is free; ``table`` is
    the grid's summed-area table and ``distance`` each cell's from the centre."""
    box_rows = int(np.ceil(((ASCENT + DESCENT) * size + 2 * PAD) / CELL))
    box_columns = int(np.ceil((length + 2 * PAD) / CELL))
    rows, columns = table.shape[0] - 1, table.shape[1] - 1
    if box_rows > rows or box_columns > columns:
        return None
    inside = (
        table[box_rows:, box_columns:]
        - table[:-box_rows, box_columns:]
        - table[box_rows:, :-box_columns]
        + table[:-box_rows, :-box_columns]
    )
    middle = distance[
        box_rows // 2 : box_rows // 2 + inside.shape[0],
        box_columns // 2 : box_columns // 2 + inside.shape[1],
    ]
    score = np.where(inside == 0, middle, np.inf)
    top, left = np.unravel_index(int(np.argmin(score)), score.shape)
    if score[top, left] == np.inf:
        return None
    return int(top), int(left), box_rows, box_columns


def _shade(colour: str, amount: float) -> str:
    """``colour`` darkened by up to 45% towards black, by ``amount`` in [0, 1)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    keep = 1 - 0.45 * amount
    return f"#{round(red * keep):02x}{round(green * keep):02x}{round(blue * keep):02x}"
