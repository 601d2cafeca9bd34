"""The run page: each stage's headline with its plots, linked to the stage's full report; the
variant that ``max_accuracy_drop`` chose, why, and the exact command that serves it."""

import json
import re
from pathlib import Path

import pytest

from modelcycle.pipeline import run
from modelcycle.pipeline._page import index_html
from modelcycle.quantization import pick_variant, rule_text
from tests.browser import needs_chromium, probe, screenshot
from tests.pipeline.conftest import tiny_config

LEADERBOARD = {
    "rows": [
        {"model": "logreg", "val_accuracy": 0.91, "latency_ms": 0.2, "size_mb": 1.5},
        {"model": "nb", "val_accuracy": 0.88, "latency_ms": 0.1, "size_mb": 0.9},
    ],
    "recommendation": "logreg",
    "reason": "the most accurate within the constraints",
}


def test_the_page_links_every_stage_report(made_run: Path) -> None:
    page = (made_run / "index.html").read_text()
    for href in (
        "eda/eda.html",
        "clean/clean_report.json",
        "evaluation/evaluation.html",
        "predictions.csv",
        "quantized/quantization.md",
        "manifest.json",
        "stages/train.json",
    ):
        assert f'href="{href}"' in page, href
        assert (made_run / href).is_file(), href
    sections = re.findall(r'<section id="([a-z]+)">', page)
    assert sections == ["data", "cleaning", "evaluation", "optimization", "serve", "stages"]
    assert page.count('<img src="data:image/svg+xml;base64,') == 3  # labels, F1, reliability
    assert "<h3>Confusion matrix</h3>" in page


def test_the_page_names_the_variant_and_serves_its_real_path(made_run: Path) -> None:
    summary = json.loads((made_run / "run.json").read_text())
    table = json.loads((made_run / "quantized" / "quantization.json").read_text())
    chosen = pick_variant(table["rows"], None)["precision"]
    path = (made_run / "quantized" / chosen).resolve()
    assert summary["serve"]["variant"] == chosen
    assert summary["serve"]["command"] == f"modelcycle serve {path}"
    page = (made_run / "index.html").read_text()
    assert f"<code>modelcycle serve {path}</code>" in page
    assert f"Chosen: {chosen} is the {rule_text(None)}: " in page


def test_max_accuracy_drop_decides_the_variant(run_copy: Path) -> None:
    data = Path(json.loads((run_copy / "config.json").read_text())["data"]["path"])
    config = tiny_config(data)
    raw = {**config.to_dict(), "quantize": {**config.to_dict()["quantize"], "max_accuracy_drop": 0}}
    told: dict[str, str] = {}
    from modelcycle.config import PipelineConfig

    result = run(PipelineConfig.from_dict(raw), run_copy, on_stage=told.__setitem__)
    assert [name for name, status in told.items() if status == "running"] == ["quantize"]
    rows = json.loads((run_copy / "quantized" / "quantization.json").read_text())["rows"]
    chosen = pick_variant(rows, 0.0)["precision"]
    assert result.summary["serve"]["variant"] == chosen
    assert result.summary["serve"]["reason"].startswith(
        f"{chosen} is the smallest variant within 0 accuracy points of FP32: "
    )
    page = (run_copy / "index.html").read_text()
    assert "[quantize] max_accuracy_drop: 0 points" in page


def test_a_select_stage_output_shows_the_leaderboard(run_copy: Path) -> None:
    (run_copy / "select").mkdir()
    (run_copy / "select" / "leaderboard.json").write_text(json.dumps(LEADERBOARD))
    summary = json.loads((run_copy / "run.json").read_text())
    page = index_html(run_copy, summary)
    assert '<section id="leaderboard"><h2>Model selection</h2>' in page
    assert "Chosen: logreg: the most accurate within the constraints" in page
    assert 'href="select/leaderboard.html"' in page
    assert page.count('alt="trade-off plot"') == 1
    assert "<td>nb</td><td>0.88</td>" in page


@needs_chromium
def test_the_page_in_a_browser(run_copy: Path, tmp_path: Path) -> None:
    (run_copy / "select").mkdir()
    (run_copy / "select" / "leaderboard.json").write_text(json.dumps(LEADERBOARD))
    page = run_copy / "index.html"
    page.write_text(index_html(run_copy, json.loads((run_copy / "run.json").read_text())))
    found = probe(tmp_path, page)
    images = found["images"]
    assert isinstance(images, list)
    assert len(images) == 4
    assert all(image["ok"] and image["width"] > 300 for image in images), images
    sections = found["found"]
    assert isinstance(sections, list)
    assert [s["id"] for s in sections if s["visible"]] == [
        "data", "cleaning", "leaderboard", "evaluation", "optimization", "serve", "stages",
    ]  # fmt: skip
    assert found["wide"] is False
    screenshot(tmp_path, page, "run-page.png")


@pytest.mark.parametrize("missing", ["quantized", "evaluation"])
def test_the_page_leaves_out_what_did_not_run(run_copy: Path, missing: str) -> None:
    summary = json.loads((run_copy / "run.json").read_text())
    key = {"quantized": "quantization", "evaluation": "test_metrics"}[missing]
    summary.pop(key)
    page = index_html(run_copy, summary)
    section = {"quantized": "optimization", "evaluation": "evaluation"}[missing]
    assert f'<section id="{section}">' not in page
    assert '<section id="serve">' in page
