"""evaluate, calibrate, compare and predict --raw through the CLI: outputs, exit codes, errors."""

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.evaluation import CONFUSION_LABELS


def digest(directory: Path) -> str:
    """One hash over every file of a directory, to show that it did not change."""
    h = hashlib.sha256()
    for file in sorted(directory.rglob("*")):
        if file.is_file():
            h.update(file.name.encode() + file.read_bytes())
    return h.hexdigest()


def test_evaluate_with_slices_and_calibration(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "eval"
    before = digest(model)
    result = runner.invoke(
        app,
        ["evaluate", str(model), str(reviews_csv), "-o", str(out), "--slice", "stars",
         "--calibrate", str(reviews_csv), "--threshold", "f1", "--examples", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"calibrated on {reviews_csv}: temperature ")
    assert lines[0].endswith(
        f"; not stored in {model} "
        f"(`modelcycle calibrate {model} {reviews_csv} --threshold f1` stores it)"
    )
    assert lines[1].startswith("accuracy 1.0000  macro-F1 1.0000  on 24 rows;")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["postprocess"]["threshold"]["label"] == "positive"
    assert metrics["postprocess_stored"] is False
    assert metrics["unknown_labels"] == {}
    assert metrics["warnings"] == []
    assert digest(model) == before  # evaluate reports what calibration would do, stores nothing
    assert "postprocess" not in json.loads((model / "model.json").read_text())
    page = (out / "evaluation.html").read_text()
    assert "for this report only" in page
    assert "The threshold tuned for this report (not stored with the model) is in use." in page
    assert [g["value"] for g in metrics["slices"]["stars"]] == ["1", "5"]
    assert len(metrics["examples"]["least_confident_correct"]) == 3
    raw = runner.invoke(app, ["evaluate", str(model), str(reviews_csv), "-o", str(out), "--raw"])
    assert raw.exit_code == 0, raw.stderr
    assert json.loads((out / "metrics.json").read_text())["postprocess"] is None


def test_evaluate_calibrate_leaves_the_stored_calibration_alone(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    stored = runner.invoke(app, ["calibrate", str(model), str(reviews_csv), "--threshold", "f1"])
    assert stored.exit_code == 0, stored.stderr
    before = digest(model)
    kept = json.loads((model / "model.json").read_text())["postprocess"]
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        ["evaluate", str(model), str(reviews_csv), "-o", str(out), "--calibrate",
         str(reviews_csv), "--threshold", "recall@precision=0.5", "--positive", "negative"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert digest(model) == before
    tried = json.loads((out / "metrics.json").read_text())["postprocess"]
    assert tried["threshold"]["label"] == "negative"
    plain = runner.invoke(app, ["evaluate", str(model), str(reviews_csv), "-o", str(out)])
    assert plain.exit_code == 0, plain.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["postprocess"] == kept  # later runs still use what calibrate stored
    assert metrics["postprocess_stored"] is True


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


def test_data_without_a_label_the_model_knows_is_refused(
    tmp_path: Path, runner: CliRunner, model: Path, reviews: pl.DataFrame
) -> None:
    data = tmp_path / "stars.csv"
    reviews.with_columns(pl.col("stars").cast(pl.String).alias("sentiment")).write_csv(data)
    for args in (
        ["evaluate", str(model), str(data), "-o", str(tmp_path / "out")],
        ["compare", str(model), str(model), str(data), "-o", str(tmp_path / "out")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.stdout
        assert result.stdout == ""
        who = "the model" if args[0] == "evaluate" else f"model {model}"
        assert result.stderr == (
            f"error: {data}, column 'sentiment': none of the data's labels is one {who} was "
            f"trained on, so every answer would be wrong; data labels: 1, 5; {who}'s labels: "
            "negative, positive. Evaluate on data labeled as the training data was, or choose "
            "the label column with --label\n"
        )
        assert not (tmp_path / "out").exists()


def test_a_long_list_of_labels_is_cut_in_the_message(
    tmp_path: Path, runner: CliRunner, model: Path, reviews: pl.DataFrame
) -> None:
    data = tmp_path / "ids.csv"
    long = "x" * 40
    labels = [f"{long}{i:02d}" for i in range(len(reviews))]
    reviews.with_columns(pl.Series("sentiment", labels)).write_csv(data)
    result = runner.invoke(app, ["evaluate", str(model), str(data), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    shown = ", ".join(["x" * 29 + "…"] * 10)
    assert f"data labels: {shown}, … (24 labels in all); the model's labels:" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_labels_the_model_does_not_know_are_a_warning_and_recorded(
    tmp_path: Path, runner: CliRunner, model: Path, reviews: pl.DataFrame
) -> None:
    data = tmp_path / "mixed.csv"
    labels = ["neutral", "mixed", "neutral", *reviews["sentiment"].to_list()[3:]]
    reviews.with_columns(pl.Series("sentiment", labels)).write_csv(data)
    warning = (
        "3 of 24 rows (12.5%) have a label {who} was not trained on, and count as errors: "
        "neutral, mixed"
    )
    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", str(model), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "warning: " + warning.format(who="the model") + "\n"
    assert result.stdout.startswith("accuracy 0.8750  macro-F1 ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["unknown_labels"] == {"neutral": 2, "mixed": 1}
    assert metrics["warnings"] == [warning.format(who="the model")]
    assert "Warning: 3 of 24 rows (12.5%)" in (out / "evaluation.html").read_text()
    cmp = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", str(model), str(model), str(data), "-o", str(cmp)])
    assert result.exit_code == 0, result.stderr
    expected = [warning.format(who=f"model {model}")] * 2
    assert result.stderr.splitlines() == [f"warning: {w}" for w in expected]
    comparison = json.loads((cmp / "comparison.json").read_text())
    assert comparison["warnings"] == expected
    assert comparison["models"]["a"]["unknown_labels"] == {"neutral": 2, "mixed": 1}


@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")
def test_evaluate_many_labels_shows_the_largest_and_other(
    tmp_path: Path, runner: CliRunner
) -> None:
    # 60 labels, one word each; label00..label04 have 3 rows, the others 1.
    labels = [f"label{i:02d}" for i in range(60)]
    rows = [(f"word{i} word{i}", label) for i, label in enumerate(labels)]
    rows += [(f"word{i}", labels[i]) for i in range(5)] * 2
    data = tmp_path / "many.csv"
    pl.DataFrame(rows, schema=["text", "label"], orient="row").write_csv(data)
    model = tmp_path / "m"
    trained = runner.invoke(app, ["train", str(data), "-o", str(model), "--model", "nb",
                                  "-p", "min_df=1"])  # fmt: skip
    assert trained.exit_code == 0, trained.stderr
    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", str(model), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    confusion = json.loads((out / "metrics.json").read_text())["confusion_matrix"]
    assert len(confusion["labels"]) == len(confusion["matrix"]) == CONFUSION_LABELS + 1
    assert confusion["labels"][:5] == labels[:5]
    assert confusion["labels"][-1] == f"(other {60 - CONFUSION_LABELS} labels)"
    assert len(confusion["folded"]) == 60 - CONFUSION_LABELS
    assert sum(map(sum, confusion["matrix"])) == len(rows)
