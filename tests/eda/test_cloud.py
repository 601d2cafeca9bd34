"""The SVG word cloud: every word inside the canvas, none overlapping, sized by weight."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from modelcycle.eda._cloud import ASCENT, DESCENT, advance, word_cloud

SVG = "{http://www.w3.org/2000/svg}"


def boxes(svg: str) -> dict[str, tuple[float, float, float, float, float]]:
    """Each word's (left, top, right, bottom, font size), from the SVG's text elements."""
    found = {}
    for text in ET.fromstring(svg).iter(f"{SVG}text"):
        x, y, size = (float(text.get(k, "nan")) for k in ("x", "y", "font-size"))
        length = float(text.get("textLength", "nan"))
        assert text.text is not None
        found[text.text] = (x, y - ASCENT * size, x + length, y + DESCENT * size, size)
    return found


def test_advance_uses_the_font_metrics() -> None:
    assert advance("Wi", 10) == pytest.approx((944 + 222) / 100)
    assert advance("café", 20) == pytest.approx(advance("cafe", 20))
    assert advance("日本", 12) == pytest.approx(24)


def test_words_stay_inside_and_never_overlap() -> None:
    words = {f"word{i}" * (1 + i % 3): 1000 / (i + 1) for i in range(100)}
    placed = boxes(word_cloud(words, colour="#0969da", alt="cloud", width=400, height=200))
    assert len(placed) > 40
    for left, top, right, bottom, _ in placed.values():
        assert 0 <= left < right <= 400
        assert 0 <= top < bottom <= 200
    for (a, first), (b, second) in itertools.combinations(placed.items(), 2):
        apart = (
            first[2] <= second[0]
            or second[2] <= first[0]
            or first[3] <= second[1]
            or second[3] <= first[1]
        )
        assert apart, f"{a} overlaps {b}"


def test_heavier_words_are_larger_and_the_same_seed_draws_the_same_cloud() -> None:
    words = {"great": 100.0, "good": 25.0, "fine": 4.0, "ignored": 0.0}
    svg = word_cloud(words, colour="#cf222e", alt="cloud", seed=3)
    placed = boxes(svg)
    assert set(placed) == {"great", "good", "fine"}
    assert placed["great"][4] > placed["good"][4] > placed["fine"][4]
    assert svg == word_cloud(words, colour="#cf222e", alt="cloud", seed=3)


def test_text_is_escaped() -> None:
    svg = word_cloud({"<b>&": 2.0, "ok": 1.0}, colour="#1a7f37", alt='a "cloud" <here>')
    root = ET.fromstring(svg)  # well-formed XML
    assert root.find(f"{SVG}title") is not None
    assert set(boxes(svg)) == {"<b>&", "ok"}
