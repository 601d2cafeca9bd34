import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.config import SelectConfig
from modelcycle.data import load_dataset
from modelcycle.exceptions import ConfigError
from modelcycle.selection import _mark_pareto, _recommend, select

FAST = {
    "fasttext": {"epochs": 20, "batch_size": 4, "buckets": 500},
    "logreg": {"min_df": 1},
    "nb": {"min_df": 1},
}


def row(model: str, accuracy: float, latency: float, size: float = 1.0) -> dict[str, object]:
    return {
        "model": model,
        "accuracy": accuracy,
        "accuracy_ci95": [accuracy - 0.02, accuracy + 0.02],
        "latency_ms_p50": latency,
        "size_mb": size,
    }


def test_pareto_front() -> None:
    rows = [row("a", 0.90, 5.0), row("b", 0.85, 1.0), row("c", 0.84, 2.0), row("d", 0.90, 6.0)]
    _mark_pareto(rows)
    assert [r["pareto"] for r in rows] == [True, True, False, False]


def test_recommendation_respects_constraints_and_names_a_faster_equal() -> None:
    rows = [row("a", 0.90, 5.0, 80.0), row("b", 0.89, 1.0, 2.0), row("c", 0.80, 0.5, 1.0)]
    choice, reason = _recommend(
        rows, {"max_latency_ms": None, "max_size_mb": None, "min_accuracy": None}
    )
    assert choice == "a"
    assert reason == (
        "a is the most accurate model (0.9000 accuracy, 5.00 ms p50 latency, 80.0 MB); "
        "b is inside its 95% interval and 5.0x faster, if latency matters more."
    )
    choice, reason = _recommend(
        rows, {"max_latency_ms": 2.0, "max_size_mb": 10.0, "min_accuracy": None}
    )
    assert choice == "b"
    assert reason.startswith(
        "b is the most accurate model within max latency ms 2.0, max size mb 10.0"
    )
    choice, reason = _recommend(
        rows, {"max_latency_ms": 0.1, "max_size_mb": None, "min_accuracy": 0.95}
    )
    assert choice is None
    assert reason.startswith("No model meets the constraints; the closest is")


def test_select_measures_every_candidate(tmp_path: Path, reviews_csv: Path) -> None:
    config = SelectConfig(models=("logreg", "nb", "fasttext"), val=0.25, params=FAST, seed=0)
    board = select(load_dataset(reviews_csv), config)
    assert sorted(r["model"] for r in board.rows) == ["fasttext", "logreg", "nb"]
    accuracies = [r["accuracy"] for r in board.rows]
    assert accuracies == sorted(accuracies, reverse=True)
    for r in board.rows:
        assert r["latency_ms_p50"] > 0
        assert r["size_mb"] > 0
        assert r["throughput_per_s"] > 0
    assert board.recommendation == board.rows[0]["model"]
    board.write(tmp_path / "sel")
    written = json.loads((tmp_path / "sel" / "leaderboard.json").read_text())
    assert written["recommendation"] == board.recommendation
    assert 'src="data:image/png;base64,' in (tmp_path / "sel" / "leaderboard.html").read_text()


def test_cross_validation_scores_every_row_once(reviews_csv: Path) -> None:
    config = SelectConfig(models=("logreg",), cv=3, params=FAST)
    board = select(load_dataset(reviews_csv), config)
    assert board.scoring == "3-fold cross-validation"
    assert board.rows[0]["accuracy"] * 24 == pytest.approx(round(board.rows[0]["accuracy"] * 24))


def test_select_config_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"select\.cv must be 0"):
        SelectConfig(cv=1)
    with pytest.raises(ConfigError, match=r"select\.models is empty"):
        SelectConfig(models=())


def test_select_cli(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    result = runner.invoke(
        app,
        [
            "select",
            str(reviews_csv),
            "-o",
            str(tmp_path / "s"),
            "--models",
            "logreg,svm",
            "--val-share",
            "0.25",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "recommendation: " in result.stdout
    assert (tmp_path / "s" / "leaderboard.html").is_file()
    bad = runner.invoke(
        app, ["select", str(reviews_csv), "-o", str(tmp_path / "t"), "--models", "logreg,forest"]
    )
    assert bad.exit_code == 1
    assert "unknown model 'forest'" in bad.stderr
    assert not (tmp_path / "t").exists()
