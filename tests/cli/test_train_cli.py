import json
from pathlib import Path

from typer.testing import CliRunner

from modelcycle.cli import app

FAST = ["--model", "fasttext", "--epochs", "3", "--batch-size", "4", "-p", "buckets=500", "-q"]


def test_training_flags_become_model_parameters(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    out = tmp_path / "model"
    args = ["train", str(reviews_csv), "-o", str(out), *FAST, "--optimizer", "adam", "--lr", "0.05"]
    result = runner.invoke(app, [*args, "--val", str(reviews_csv)])
    assert result.exit_code == 0, result.stderr
    meta = json.loads((out / "model.json").read_text())
    assert (meta["family"], meta["params"]["optimizer"], meta["params"]["lr"]) == (
        "fasttext",
        "adam",
        0.05,
    )
    assert meta["params"]["epochs"] == 3
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert (out / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "model.checkpoints").exists()  # removed once the model is saved


def test_keep_checkpoints_then_resume(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    out = tmp_path / "model"
    args = ["train", str(reviews_csv), "-o", str(out), *FAST]
    assert runner.invoke(app, [*args, "--keep-checkpoints"]).exit_code == 0
    assert [p.name for p in (tmp_path / "model.checkpoints").iterdir()] == ["epoch-0003"]
    first = (out / "weights.safetensors").read_bytes()
    resumed = runner.invoke(app, [*args, "--resume"])  # all epochs done: nothing left to train
    assert resumed.exit_code == 0, resumed.stderr
    assert (out / "weights.safetensors").read_bytes() == first


def test_resume_of_a_closed_form_model_is_refused(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    result = runner.invoke(app, ["train", str(reviews_csv), "-o", str(tmp_path / "m"), "--resume"])
    assert result.exit_code == 1
    assert (
        "--resume continues gradient training; model 'logreg' without --optimizer" in result.stderr
    )
    assert not (tmp_path / "m").exists()


def test_a_parameter_the_family_lacks_is_refused(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    result = runner.invoke(
        app, ["train", str(reviews_csv), "-o", str(tmp_path / "m"), "-p", "dim=5"]
    )
    assert result.exit_code == 1
    assert "unknown parameter 'dim' for model 'logreg'; valid parameters are:" in result.stderr


def test_compare_optimizers(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    out = tmp_path / "compare"
    result = runner.invoke(
        app, ["train", str(reviews_csv), "-o", str(out), *FAST, "--compare-optimizers"]
    )
    assert result.exit_code == 0, result.stderr
    comparison = json.loads((out / "comparison.json").read_text())
    assert [r["optimizer"] for r in comparison["rows"]] == ["sgd", "adam", "rmsprop", "adagrad"]
    assert comparison["best"] in {"sgd", "adam", "rmsprop", "adagrad"}
    for row in comparison["rows"]:
        assert 0.0 <= row["val_accuracy"] <= 1.0
        assert row["epochs_run"] == 3
        assert (out / row["optimizer"] / "model.json").is_file()
    assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert "| optimizer | lr | val accuracy |" in (out / "comparison.md").read_text()
    assert "| adagrad |" in result.stdout
