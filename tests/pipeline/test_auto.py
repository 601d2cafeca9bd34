"""``train.model = "auto"``: the run searches the families (the select stage), trains the pick,
and evaluates it; the run page shows the leaderboard."""

import json
from pathlib import Path

import polars as pl
import pytest

from modelcycle.config import PipelineConfig
from modelcycle.models import load_model
from modelcycle.pipeline import run
from tests.conftest import NEGATIVE, POSITIVE

pytest.importorskip("optuna", reason="select needs the select extra (optuna)")


def auto_config(data: Path, **select: object) -> PipelineConfig:
    return PipelineConfig.from_dict(
        {
            "data": {"path": str(data)},
            "split": {"test": 0.25, "val": 0.25},
            "train": {"model": "auto"},
            "select": {"models": ["logreg", "nb"], "budget": 120, "trials": 4, **select},
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [t for pair in zip(POSITIVE, NEGATIVE, strict=True) for t in pair]
    path = tmp_path_factory.mktemp("auto") / "reviews.csv"
    pl.DataFrame({"review_text": texts, "sentiment": ["positive", "negative"] * 12}).write_csv(path)
    return path


def test_auto_selects_then_trains_and_evaluates_the_pick(data: Path, tmp_path: Path) -> None:
    result = run(auto_config(data), tmp_path / "run")
    run_dir = result.path
    board = json.loads((run_dir / "select" / "leaderboard.json").read_text(encoding="utf-8"))
    pick = next(row for row in board["rows"] if row["name"] == board["recommendation"])
    assert pick["family"] in ("logreg", "nb")
    assert {row["trial"] for row in board["rows"]} >= {0, 1}  # trials ran
    # the run's model is the pick, as select wrote it
    model_files = sorted(p.name for p in (run_dir / "model").iterdir())
    assert model_files == sorted(p.name for p in (run_dir / "select" / "model").iterdir())
    assert (
        type(load_model(run_dir / "model")).__name__
        == type(load_model(run_dir / "select" / "model")).__name__
    )
    metrics = json.loads((run_dir / "evaluation" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["model"] == board["recommendation"]
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="select/leaderboard.html"' in page
    timings = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["timings"]
    assert {"select", "train", "evaluate"} <= timings.keys()


def test_a_second_auto_run_skips_the_search(data: Path, tmp_path: Path) -> None:
    first = run(auto_config(data), tmp_path / "run")
    study = (first.path / "select" / "study.db").stat().st_mtime_ns
    second = run(auto_config(data), tmp_path / "run")
    assert (second.path / "select" / "study.db").stat().st_mtime_ns == study
