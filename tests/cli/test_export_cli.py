"""``modelcycle export`` and ``modelcycle quantize`` through the CLI runner."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app


def test_export_writes_graph_and_preprocessing(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", str(model), "-o", str(out), "--data", str(reviews_csv)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        f"wrote {out} and {tmp_path / 'm.preprocessing.json'} (logreg, graph "
    )
    assert "parity with the model: max difference" in result.stdout
    assert result.stdout.rstrip().endswith("on 226 texts")
    assert json.loads((tmp_path / "m.preprocessing.json").read_text())["family"] == "logreg"

    result = runner.invoke(app, ["export", str(model), "-o", str(tmp_path / "dir")])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["predict", str(tmp_path / "dir"), "--text", "wonderful"])
    assert json.loads(result.stdout)["label"] == "positive"


def test_quantize_writes_variants_and_table(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "q"
    result = runner.invoke(
        app,
        [
            *("quantize", str(model), "--data", str(reviews_csv), "-o", str(out)),
            *("--precision", "fp16,int8", "--max-accuracy-drop", "0.5"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"# Quantization of logreg on {reviews_csv}"
    assert sum(line.startswith(("| fp32 |", "| fp16 |", "| int8 |")) for line in lines) == 3
    assert any(line.startswith("**Choice:** ") for line in lines)
    assert (
        lines[-1]
        == f"wrote {out / 'quantization.json'}, quantization.md and a directory per variant"
    )
    document = json.loads((out / "quantization.json").read_text())
    assert [r["precision"] for r in document["rows"]] == ["fp32", "fp16", "int8"]

    result = runner.invoke(
        app, ["evaluate", str(out / "int8"), str(reviews_csv), "-o", str(tmp_path / "eval")]
    )
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] == document["rows"][2]["accuracy"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--precision", "int4"], "quantize.precisions must be one of fp32, fp16, int8"),
        (["--prune-vocab", "10"], "--prune-vocab applies to the fasttext family only"),
        (["--calibrate", "-1"], "quantize.calibrate must be >= 0, got -1"),
    ],
)
def test_quantize_bad_options_are_one_line_and_write_nothing(
    tmp_path: Path,
    runner: CliRunner,
    model: Path,
    reviews_csv: Path,
    extra: list[str],
    message: str,
) -> None:
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(
        app, ["quantize", str(model), "--data", str(reviews_csv), "-o", str(tmp_path / "q"), *extra]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert message in line
    assert sorted(tmp_path.iterdir()) == before


def test_missing_model_and_unlabeled_data_are_one_line(
    tmp_path: Path, runner: CliRunner, model: Path
) -> None:
    result = runner.invoke(app, ["export", str(tmp_path / "nope"), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"error: {tmp_path / 'nope'}: not a model directory (it does not exist or is a file)\n"
    )
    unlabeled = tmp_path / "texts.csv"
    unlabeled.write_text("text\nhello\n", encoding="utf-8")
    result = runner.invoke(
        app, ["quantize", str(model), "--data", str(unlabeled), "-o", str(tmp_path / "q")]
    )
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert "no label column found" in result.stderr
    assert not (tmp_path / "q").exists()


@pytest.mark.parametrize("command", ["export", "evaluate", "train", "split"])
def test_a_directory_modelcycle_did_not_write_is_never_replaced(
    command: str, tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    inputs = {"export": [model], "evaluate": [model, reviews_csv]}.get(command, [reviews_csv])
    result = runner.invoke(app, [command, *map(str, inputs), "-o", str(mine)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {mine} exists and is not a directory modelcycle wrote; "
        "choose another output path\n"
    )
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "args",
    [
        ["export", "model"],
        ["quantize", "model", "-o", "q"],
        ["quantize", "model", "--data", "t.csv"],
    ],
)
def test_bad_usage_exits_2(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_quantize_static_with_calibration_data(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    texts = tmp_path / "calibration.csv"
    texts.write_text("text\nwonderful film\nawful film\ngreat fun\n", encoding="utf-8")
    out = tmp_path / "q"
    result = runner.invoke(
        app,
        [
            *("quantize", str(model), "--data", str(reviews_csv), "-o", str(out)),
            *("--precision", "int8-static", "--calibrate", "3"),
            *("--calibration-data", str(texts)),
        ],
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads((out / "quantization.json").read_text())
    assert [r["precision"] for r in document["rows"]] == ["fp32", "int8-static"]
    assert document["source"]["calibration"] == "given texts"
    assert document["guardrail"]["texts"] == 3
