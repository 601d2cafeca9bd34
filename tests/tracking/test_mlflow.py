"""MLflow for real: a run logged to a SQLite tracking store, and a command's output logged to
an ``mlflow server`` over HTTP, each read back with MLflow's own client and pyfunc loader."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.models import load_model
from modelcycle.prediction import predict
from modelcycle.tracking import track

mlflow = pytest.importorskip(
    "mlflow", reason="MLflow is not installed (the tracking extra; make install adds it)"
)
pd = pytest.importorskip("pandas")
from mlflow import MlflowClient  # noqa: E402

TEXTS = ["a wonderful, brilliant film", "an awful, boring mess"]


def runs_by_name(client: Any) -> dict[str, Any]:
    experiment = client.get_experiment_by_name("modelcycle")
    return {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}


def test_a_run_logged_to_a_sqlite_store(
    run_copy: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the store's default artifact root is ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = run_copy / "config.json"
    result = runner.invoke(app, ["run", str(config), "-o", str(run_copy), "--track", uri])
    assert result.exit_code == 0, result.stderr
    assert "· train: unchanged, skipped" in result.stderr
    summary = json.loads((run_copy / "run.json").read_text())
    client = MlflowClient(uri)
    runs = runs_by_name(client)
    parent = runs[f"run {run_copy.name}"]
    assert f"tracked: MLflow run {parent.info.run_id} (experiment 'modelcycle') at {uri}" in (
        result.stdout
    )
    stages = ["eda", "clean", "split", "train", "evaluate", "predict", "quantize"]
    assert set(runs) == {parent.info.run_name, *stages}
    for stage in stages:
        assert runs[stage].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.params["train.params.min_df"] == "1"
    assert parent.data.params["quantize.precisions"] == '["int8"]'
    assert parent.data.tags["modelcycle.data_sha256"] == summary["data_sha256"]
    assert parent.data.metrics["test_accuracy"] == summary["test_metrics"]["accuracy"]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"index.html", "run.json", "manifest.json", "config.json"} <= artifacts
    evaluate = runs["evaluate"]
    assert evaluate.data.metrics["accuracy"] == summary["test_metrics"]["accuracy"]
    assert {a.path for a in client.list_artifacts(evaluate.info.run_id, "evaluation")} >= {
        "evaluation/metrics.json",
        "evaluation/evaluation.html",
    }
    assert (
        runs["quantize"].data.metrics["int8_accuracy"]
        == summary["quantization"]["int8"]["accuracy"]
    )

    train = runs["train"]
    model_uri = train.data.tags["modelcycle.model_uri"]
    mlflow.set_tracking_uri(uri)
    answers = mlflow.pyfunc.load_model(model_uri).predict(pd.DataFrame({"text": TEXTS}))
    expected = predict(load_model(run_copy / "model"), TEXTS)
    assert answers["label"].tolist() == list(expected.labels)
    assert answers["score_positive"].tolist() == pytest.approx(
        expected.score_columns()["score_positive"].tolist()
    )
    version = mlflow.register_model(model_uri, "reviews")
    registered = mlflow.pyfunc.load_model(f"models:/reviews/{version.version}")
    assert registered.predict(pd.DataFrame({"text": TEXTS}))["label"].tolist() == list(
        expected.labels
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1: a SQLite backend, a local artifact root; stopped after."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "artifacts"),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_a_model_tracked_over_http(
    mlflow_server: str, runner: CliRunner, reviews_csv: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    flags = ["--model", "fasttext", "--epochs", "3", "--val", str(reviews_csv)]
    trained = runner.invoke(app, ["train", str(reviews_csv), "-o", str(model), *flags])
    assert trained.exit_code == 0, trained.stderr
    where = track(mlflow_server, "train", model, {"model": "fasttext", "epochs": 3})
    client = MlflowClient(mlflow_server)
    run = runs_by_name(client)[f"train {model.name}"]
    assert where == f"MLflow run {run.info.run_id} (experiment 'modelcycle') at {mlflow_server}"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3]
    saved = json.loads((model / "history.json").read_text())
    assert [m.value for m in history] == pytest.approx([epoch["loss"] for epoch in saved])
    assert run.data.params["model"] == "fasttext"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode == 0:  # the tests run in a git checkout
        assert run.data.tags["mlflow.source.git.commit"] == head.stdout.strip()
    assert (
        run.data.metrics["val_accuracy"]
        == json.loads((model / "model.json").read_text())["metrics"]["val_accuracy"]
    )
    mlflow.set_tracking_uri(mlflow_server)
    answers = mlflow.pyfunc.load_model(run.data.tags["modelcycle.model_uri"]).predict(
        pd.DataFrame({"text": TEXTS})
    )
    assert answers["label"].tolist() == list(predict(load_model(model), TEXTS).labels)
