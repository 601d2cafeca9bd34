"""eda.html in a real browser: headless Chromium loads every image and shows every section.

Skipped, with the reason, where Chromium is not installed (``apt-get install chromium``). Set
MODELCYCLE_SCREENSHOTS=DIR to keep the screenshots it takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcycle.data import Dataset
from modelcycle.eda import profile
from modelcycle.eda._render import sections
from tests.browser import needs_chromium, probe, screenshot

pytestmark = needs_chromium


@pytest.fixture
def report_dir(tmp_path: Path, reviews: object) -> Path:
    import polars as pl

    assert isinstance(reviews, pl.DataFrame)
    data = Dataset(reviews, "review_text", "sentiment", "reviews.csv")
    other = Dataset(reviews.head(10), "review_text", "sentiment", "test.csv")
    return profile(data, compare=other).write(tmp_path / "eda")


def test_every_image_loads_and_every_section_shows(tmp_path: Path, report_dir: Path) -> None:
    page = report_dir / "eda.html"
    data = json.loads((report_dir / "eda.json").read_text(encoding="utf-8"))
    result = probe(tmp_path, page)
    images = result["images"]
    assert len(images) >= 7  # labels, lengths, vocabulary, clouds, map, numeric, compare
    assert [i["alt"] for i in images if not i["ok"]] == []
    assert [s["id"] for s in result["found"]] == [anchor for anchor, _ in sections(data)]
    assert all(s["visible"] for s in result["found"])
    assert not result["wide"], "the page scrolls sideways at 1280 px"

    screenshot(tmp_path, page, "eda.png")
