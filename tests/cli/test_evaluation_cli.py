"""evaluate, calibrate, compare and predict --raw through the CLI: outputs, exit codes, errors."""

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app


def digest(directory: Path) -> str:
    """One hash over every file of a directory, to show that it did not change."""
    h = hashlib.sha256()
    for file in sorted(directory.rglob("*")):
        if file.is_file():
            h.update(file.name.encode() + file.read_bytes())
    return h.hexdigest()


@pytest.fixture
def model(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> Path:
    path = tmp_path / "model"
    result = runner.invoke(app, ["train", str(reviews_csv), "-o", str(path), "-p", "min_df=1"])
    assert result.exit_code == 0, result.stderr
    return path


def test_evaluate_with_slices_and_calibration(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        ["evaluate", str(model), str(reviews_csv), "-o", str(out), "--slice", "stars",
         "--calibrate", str(reviews_csv), "--threshold", "f1", "--examples", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"calibrated on {reviews_csv}: temperature ")
    assert lines[0].endswith(f"updated {model / 'model.json'}")
    assert lines[1].startswith("accuracy 1.0000  macro-F1 1.0000  on 24 rows;")
    metrics = json.loads((out / "metrics.json").read_text())
    stored = json.loads((model / "model.json").read_text())["postprocess"]
    assert metrics["postprocess"] == stored
    assert stored["threshold"]["label"] == "positive"
    assert [g["value"] for g in metrics["slices"]["stars"]] == ["1", "5"]
    assert len(metrics["examples"]["least_confident_correct"]) == 3
    raw = runner.invoke(app, ["evaluate", str(model), str(reviews_csv), "-o", str(out), "--raw"])
    assert raw.exit_code == 0, raw.stderr
    assert json.loads((out / "metrics.json").read_text())["postprocess"] is None


def test_calibrate_then_predict_uses_it_and_raw_does_not(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    result = runner.invoke(app, ["calibrate", str(model), str(reviews_csv)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("temperature ")
    assert result.stdout.endswith(f"updated {model / 'model.json'}\n")
    temperature = json.loads((model / "model.json").read_text())["postprocess"]["temperature"]
    assert temperature != 1.0
    scores = {}
    for flag in ([], ["--raw"]):
        out = runner.invoke(app, ["predict", str(model), "--text", "a wonderful film", *flag])
        assert out.exit_code == 0, out.stderr
        scores[bool(flag)] = json.loads(out.stdout)["scores"]["positive"]
    assert scores[True] != pytest.approx(scores[False])
    out = tmp_path / "p.csv"
    assert (
        runner.invoke(app, ["predict", str(model), str(reviews_csv), "-o", str(out)]).exit_code == 0
    )
    assert pl.read_csv(out)["score_positive"][0] != pytest.approx(
        pl.read_csv(out)["score_negative"][0]
    )
    removed = runner.invoke(app, ["calibrate", str(model), str(reviews_csv), "--no-temperature"])
    assert removed.exit_code == 0, removed.stderr
    assert removed.stdout.startswith("no post-processing")
    assert "postprocess" not in json.loads((model / "model.json").read_text())


def test_compare_two_models(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    other = tmp_path / "nb"
    assert runner.invoke(app, ["train", str(reviews_csv), "-o", str(other), "--model", "nb",
                               "-p", "min_df=1"]).exit_code == 0  # fmt: skip
    out = tmp_path / "cmp"
    result = runner.invoke(
        app, ["compare", str(model), str(other), str(reviews_csv), "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("accuracy 1.0000 vs 1.0000: difference +0.0000")
    assert "no significant difference" in result.stdout
    assert json.loads((out / "comparison.json").read_text())["models"]["b"]["name"] == str(other)
    assert (out / "comparison.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "{model}", "{data}", "-o", "{out}", "--slice", "genre"],
         "reviews.csv: slice column 'genre' not found; columns are: review_text, sentiment, stars"),
        (["evaluate", "{model}", "{data}", "-o", "{out}", "--calibrate", "{data}",
          "--threshold", "auc"], "unknown threshold metric 'auc'; valid metrics are: f1, accuracy"),
        (["evaluate", "{model}", "{data}", "-o", "{out}", "--calibrate", "{data}",
          "--threshold", "recall@precision=1", "--positive", "nope"],
         "positive label 'nope' is not one of the model's labels"),
        (["evaluate", "{model}", "{missing}", "-o", "{out}"], "missing.csv: file not found"),
        (["evaluate", "{tmp}", "{data}", "-o", "{out}"], "no manifest.json"),
        (["calibrate", "{model}", "{data}", "--threshold", "precision@recall=2"],
         "unknown threshold metric 'precision@recall=2'"),
        (["compare", "{model}", "{missing}", "{data}", "-o", "{out}"],
         "missing.csv: not a model directory"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_change_nothing(
    tmp_path: Path,
    runner: CliRunner,
    model: Path,
    reviews_csv: Path,
    args: list[str],
    message: str,
) -> None:
    values = {
        "model": str(model),
        "data": str(reviews_csv),
        "out": str(tmp_path / "out"),
        "missing": str(tmp_path / "missing.csv"),
        "tmp": str(tmp_path),
    }
    before_files = sorted(tmp_path.iterdir())
    before_model = digest(model)
    result = runner.invoke(app, [a.format(**values) for a in args])
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert sorted(tmp_path.iterdir()) == before_files  # no output, no temporary
    assert digest(model) == before_model


@pytest.mark.parametrize(
    "extra",
    [["--threshold", "f1"], ["--positive", "positive"], ["--raw", "--calibrate", "v.csv"]],
)
def test_bad_usage_exits_2(
    runner: CliRunner, model: Path, reviews_csv: Path, extra: list[str]
) -> None:
    result = runner.invoke(app, ["evaluate", str(model), str(reviews_csv), "-o", "x", *extra])
    assert result.exit_code == 2


def test_threshold_on_a_three_label_model_is_refused(tmp_path: Path, runner: CliRunner) -> None:
    data = tmp_path / "three.csv"
    data.write_text("text,label\ngood,a\nbad,b\nmeh,c\ngood fun,a\nbad day,b\nmeh so,c\n")
    model = tmp_path / "m3"
    assert (
        runner.invoke(app, ["train", str(data), "-o", str(model), "-p", "min_df=1"]).exit_code == 0
    )
    before = digest(model)
    result = runner.invoke(app, ["calibrate", str(model), str(data), "--threshold", "f1"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: threshold tuning needs a model with 2 labels; this one has 3 (a, b, c)\n"
    )
    assert digest(model) == before
