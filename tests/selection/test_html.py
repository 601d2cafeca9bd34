"""leaderboard.html in headless Chromium: the chart loads, each section shows, nothing overflows."""

from __future__ import annotations

from html import escape as html_escape
from pathlib import Path

from modelcycle.config import SelectConfig
from modelcycle.data import Dataset
from modelcycle.selection import select
from tests.browser import needs_chromium, probe, screenshot


@needs_chromium
def test_leaderboard_page_in_chromium(tmp_path: Path, corpus: Dataset) -> None:
    config = SelectConfig(models=("logreg", "nb", "svm"), trials=9, seed=0)
    board = select(corpus, config, out_dir=tmp_path / "sel")
    page = tmp_path / "sel" / "leaderboard.html"
    html = page.read_text()
    assert f"{board.recommendation} ★" in html
    assert html_escape(board.reason) in html
    found = probe(tmp_path, page)
    assert found["images"] == [{"alt": "trials", "ok": True, "width": 990}]
    assert found["found"] == [
        {"id": "chart", "visible": True},
        {"id": "families", "visible": True},
        {"id": "importances", "visible": True},
        {"id": "trials", "visible": True},
    ]
    assert found["wide"] is False
    assert board.importances, "9 trials of 3 families: at least one family has importances"
    screenshot(tmp_path, page, "leaderboard.png")
