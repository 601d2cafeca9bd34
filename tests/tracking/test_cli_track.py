"""``--track`` on ``train``, ``evaluate`` and ``select`` (and ``MLFLOW_TRACKING_URI``): each
command's output logged as one MLflow run."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app

mlflow = pytest.importorskip(
    "mlflow", reason="MLflow is not installed (the tracking extra; make install adds it)"
)
from mlflow import MlflowClient  # noqa: E402


def test_train_evaluate_select_track(
    runner: CliRunner, reviews_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the store's default artifact root is ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model, report, board = tmp_path / "model", tmp_path / "eval", tmp_path / "select"
    commands = [
        ["train", str(reviews_csv), "-o", str(model), "-p", "min_df=1", "--track", uri],
        ["evaluate", str(model), str(reviews_csv), "-o", str(report), "--track", uri],
        ["select", str(reviews_csv), "-o", str(board), "--models", "logreg,nb"],
    ]
    for command in commands:
        env = {"MLFLOW_TRACKING_URI": uri} if command[0] == "select" else {}
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 0, result.stderr
        assert f"(experiment 'modelcycle') at {uri}\n" in result.stderr
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("modelcycle")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"train model", "evaluate eval", "select select"}
    assert runs["train model"].data.params["train.params.min_df"] == "1"
    assert "modelcycle.model_uri" in runs["train model"].data.tags
    metrics = json.loads((report / "metrics.json").read_text())
    assert runs["evaluate eval"].data.metrics["accuracy"] == metrics["accuracy"]
    assert runs["evaluate eval"].data.params["model"] == str(model)
    leaderboard = json.loads((board / "leaderboard.json").read_text())
    tags = runs["select select"].data.tags
    assert tags["modelcycle.recommendation"] == str(leaderboard["recommendation"])


def test_without_mlflow_track_is_a_clear_error(
    runner: CliRunner, reviews_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    model = tmp_path / "model"
    command = ["train", str(reviews_csv), "-o", str(model), "-p", "min_df=1", "--track", "x"]
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "error: --track x: MLflow is not installed; install modelcycle[tracking] (make install "
        "installs it)\n"
    )
