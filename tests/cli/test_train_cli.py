import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
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


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "0.1"], "error: lr applies to gradient training, but logreg without an"),
        (
            ["--optimizer", "adam", "--momentum", "0.9"],
            "error: optimizer 'adam' takes no momentum (got 0.9); momentum applies to: sgd",
        ),
        (["--optimizer", "lbfgs"], "error: unknown optimizer 'lbfgs'; valid optimizers are: sgd"),
    ],
)
def test_an_optimizer_flag_that_does_not_apply_is_refused(
    flags: list[str], message: str, tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    result = runner.invoke(app, ["train", str(reviews_csv), "-o", str(tmp_path / "m"), *flags])
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "m").exists()


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


def _checkpointed(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> tuple[list[str], Path]:
    """A finished fastText run with its checkpoint kept: the arguments and the checkpoint."""
    args = ["train", str(reviews_csv), "-o", str(tmp_path / "model"), *FAST]
    assert runner.invoke(app, [*args, "--keep-checkpoints"]).exit_code == 0
    return args, tmp_path / "model.checkpoints" / "epoch-0003"


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # in the last tensor's values: still a readable safetensors file
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_flip_one_byte, r"checkpoint\.safetensors: SHA-256 [0-9a-f]{64} does not match"),
        (_truncate, r"checkpoint\.safetensors: 1,000 bytes where checkpoint\.json recorded"),
    ],
)
def test_resume_refuses_a_damaged_checkpoint(
    tmp_path: Path,
    runner: CliRunner,
    reviews_csv: Path,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    args, checkpoint = _checkpointed(tmp_path, runner, reviews_csv)
    damage(checkpoint / "checkpoint.safetensors")
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 1
    assert re.fullmatch(
        rf"error: {re.escape(str(checkpoint))}/{message}.* train without --resume to start over "
        rf"\(or delete {re.escape(str(checkpoint.parent))}\)\n",
        result.stderr,
    ), result.stderr


def test_resume_refuses_an_unreadable_checkpoint_description(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    args, checkpoint = _checkpointed(tmp_path, runner, reviews_csv)
    (checkpoint / "checkpoint.json").write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: {checkpoint / 'checkpoint.json'}: not a checkpoint description modelcycle can "
        "read (JSONDecodeError("
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("logreg", "no word n-gram (1 to 2 words) occurs in at least min_df=2 of the 4 texts: "),
        ("fasttext", "no word occurs in at least min_count=1 of the 4 texts: "),
    ],
)
def test_texts_without_a_feature_are_one_line_naming_the_file_and_column(
    tmp_path: Path, runner: CliRunner, model: str, message: str
) -> None:
    data = tmp_path / "punctuation.csv"
    data.write_text("review,label\n...,pos\n-,neg\n---,pos\n.,neg\n", encoding="utf-8")
    result = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "m"), "--model", model])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {data}, column 'review': {message}")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "m").exists()
