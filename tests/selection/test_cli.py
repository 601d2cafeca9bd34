"""``modelcycle select`` through the CLI runner: outputs, the model it writes, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.data import Dataset

LEADERBOARD_KEYS = {
    "data",
    "scoring",
    "test",
    "alpha",
    "constraints",
    "recommendation",
    "best",
    "reason",
    "model_dir",
    "budget_s",
    "elapsed_s",
    "study",
    "families",
    "importances",
    "rows",
}


def write_csv(dataset: Dataset, path: Path) -> Path:
    dataset.frame.write_csv(path)
    return path


def test_select_writes_the_leaderboard_the_study_and_a_usable_model(
    tmp_path: Path, runner: CliRunner, corpus: Dataset
) -> None:
    data = write_csv(corpus, tmp_path / "corpus.csv")
    out = tmp_path / "sel"
    args = ["select", str(data), "-o", str(out), "--models", "logreg,nb", "--trials", "3"]
    result = runner.invoke(app, [*args, "--budget", "2m", "--seed", "3"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "scored on 5-fold cross-validation (160 rows, each scored once, as the data has under "
        "2,000 rows); paired test: McNemar's exact test (two-sided) against the most accurate "
        "model on the same 160 validation rows, level 0.05\n"
    )
    assert "logreg#0: accuracy " in result.stderr  # progress, one line per trial
    board = json.loads((out / "leaderboard.json").read_text())
    assert set(board) == LEADERBOARD_KEYS
    assert board["budget_s"] == 120.0
    assert len(board["rows"]) == 3
    assert board["study"]["trials"] == 3
    assert f"recommendation: {board['recommendation']}. {board['reason']}\n" in result.stdout
    pick = next(r for r in board["rows"] if r["name"] == board["recommendation"])
    assert pick["tied_with_best"] is True
    assert {"accuracy", "accuracy_ci95", "size_mb", "latency_ms_p50", "p_value"} <= set(pick)
    assert (out / "study.db").is_file()
    assert (out / "leaderboard.html").is_file()
    model_json = json.loads((out / "model" / "model.json").read_text())
    assert model_json["family"] == pick["family"]
    assert model_json["metrics"]["selection_accuracy"] == pick["accuracy"]
    evaluated = runner.invoke(
        app, ["evaluate", str(out / "model"), str(data), "-o", str(tmp_path / "ev")]
    )
    assert evaluated.exit_code == 0, evaluated.stderr
    assert (tmp_path / "ev" / "metrics.json").is_file()

    again = runner.invoke(app, [*args, "--seed", "3"])
    assert again.exit_code == 1
    assert again.stderr.endswith(
        f"error: {out}/study.db already holds a selection study; pass --resume to continue it, "
        "or choose another output directory\n"
    )
    resumed = runner.invoke(app, [*args, "--seed", "3", "--resume", "--trials", "1"])
    assert resumed.exit_code == 0, resumed.stderr
    assert len(json.loads((out / "leaderboard.json").read_text())["rows"]) == 4


def test_select_refuses_bad_input(tmp_path: Path, runner: CliRunner, corpus: Dataset) -> None:
    data = write_csv(corpus, tmp_path / "corpus.csv")
    bad = runner.invoke(
        app, ["select", str(data), "-o", str(tmp_path / "t"), "--models", "logreg,forest"]
    )
    assert bad.exit_code == 1
    assert bad.stderr == (
        "error: unknown model 'forest'; valid models are: logreg, svm, nb, fasttext, mlp, "
        "transformer\n"
    )
    assert not (tmp_path / "t").exists()
    soon = runner.invoke(app, ["select", str(data), "-o", str(tmp_path / "t"), "--budget", "soon"])
    assert soon.exit_code == 1
    assert soon.stderr == "error: --budget must be a duration such as 90s, 10m or 1h, got 'soon'\n"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    taken = runner.invoke(app, ["select", str(data), "-o", str(tmp_path / "mine"), "--trials", "1"])
    assert taken.exit_code == 1
    assert "is not a directory modelcycle select wrote; choose another output path" in taken.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
