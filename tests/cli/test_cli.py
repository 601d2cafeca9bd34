import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from modelcycle import __version__
from modelcycle.cli import app
from tests.conftest import POSITIVE

COMMANDS = sorted(app.registered_commands, key=lambda c: str(c.name))
README = Path(__file__).parents[2] / "README.md"


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"modelcycle {__version__}\n"


@pytest.mark.parametrize("name", [str(c.name) for c in COMMANDS])
def test_every_help_has_a_runnable_example(runner: CliRunner, name: str) -> None:
    result = runner.invoke(app, [name, "-h"])
    assert result.exit_code == 0
    example = re.search(r"Example: (modelcycle [^\n]+)", result.stdout)
    assert example is not None, result.stdout
    assert example.group(1).split()[1] == name


@pytest.mark.parametrize("name", [str(c.name) for c in COMMANDS])
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"modelcycle {name}" in README.read_text(encoding="utf-8")


def test_train_evaluate_predict(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    model = tmp_path / "model"
    result = runner.invoke(
        app,
        ["train", str(reviews_csv), "-o", str(model), "-p", "min_df=1", "--val", str(reviews_csv)],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote {model} (")
    assert "validation accuracy 1.0000" in result.stdout
    assert json.loads((model / "model.json").read_text())["params"]["min_df"] == 1

    result = runner.invoke(
        app, ["evaluate", str(model), str(reviews_csv), "-o", str(tmp_path / "eval")]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("accuracy 1.0000  macro-F1 1.0000  on 24 rows;")

    result = runner.invoke(app, ["predict", str(model), "--text", "I loved it, wonderful"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["text"], record["label"]) == ("I loved it, wonderful", "positive")

    out = tmp_path / "p.jsonl"
    result = runner.invoke(app, ["predict", str(model), str(reviews_csv), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote 24 predictions to {out}; ")
    assert "rows/s on " in result.stdout
    assert len(out.read_text().splitlines()) == 24


def test_run_with_overrides(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[data]\npath = "{reviews_csv.name}"\n[split]\ntest = 0.25\nval = 0.25\n', encoding="utf-8"
    )
    out = tmp_path / "runs" / "first"
    result = runner.invoke(
        app, ["run", str(config), "-o", str(out), "--set", "train.params.min_df=1"]
    )
    assert result.exit_code == 0, result.stderr
    assert f"run directory: {out}" in result.stdout
    assert re.search(r"test accuracy: \d\.\d{4} \(95% interval", result.stdout)
    assert json.loads((out / "config.json").read_text())["train"]["params"] == {"min_df": 1}


BAD_INPUTS = [
    ("missing.csv", None, "missing.csv: file not found"),
    ("empty.csv", b"", "empty.csv: file is empty"),
    ("header.csv", b"text,label\n", "header.csv: no data rows (the file has only a header)"),
    (
        "cols.csv",
        b"body,label\nx,y\n",
        "cols.csv: no text column found; columns are: body, label; choose one with --text COL",
    ),
    ("blank.csv", b"text,label\n,a\n ,b\n", "blank.csv, column 'text': every text is empty"),
    (
        "nolabel.csv",
        b"text,label\nx,a\ny,\n",
        "nolabel.csv, row 2, column 'label': missing label (1 row without one)",
    ),
    (
        "one.csv",
        b"text,label\nx,a\ny,a\n",
        "one.csv, column 'label': training needs at least 2 classes, found 1 ('a')",
    ),
    (
        "latin.csv",
        "text,label\ncafé,a\nb,b\n".encode("latin-1"),
        "latin.csv, row 1, column 'text': not valid UTF-8 (byte 0xe9)",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_1_and_writes_nothing(
    tmp_path: Path, runner: CliRunner, name: str, content: bytes | None, message: str
) -> None:
    data = tmp_path / name
    if content is not None:
        data.write_bytes(content)
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "model")])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path}/")
    assert message in lines[0]
    assert sorted(tmp_path.iterdir()) == before  # nothing half-written


def test_unknown_column_lists_the_columns(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    result = runner.invoke(
        app, ["train", str(reviews_csv), "--text", "body", "-o", str(tmp_path / "m")]
    )
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "text column 'body' not found; columns are: review_text, sentiment, stars\n"
    )


def test_tampered_model_is_refused(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    model = tmp_path / "model"
    assert runner.invoke(app, ["train", str(reviews_csv), "-o", str(model)]).exit_code == 0
    weights = model / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = runner.invoke(app, ["predict", str(model), "--text", "hello"])
    assert result.exit_code == 1
    assert "weights.safetensors: SHA-256 does not match manifest.json" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["train", "data.csv"],  # no -o
        ["predict", "model", "data.csv", "--text", "hi"],  # both a file and --text
        ["predict", "model"],  # neither
        ["frobnicate"],
    ],
)
def test_bad_usage_exits_2(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_module_entry_point_and_lazy_imports() -> None:
    code = (
        "import sys, modelcycle, modelcycle.cli\n"
        "heavy = [m for m in ('sklearn', 'torch', 'polars', 'pyarrow') if m in sys.modules]\n"
        "print(heavy)"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert imported.stdout.strip() == "[]"
    version = subprocess.run(
        [sys.executable, "-m", "modelcycle", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout == f"modelcycle {__version__}\n"


def test_a_missing_package_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    from modelcycle.cli._common import handle_errors

    @handle_errors
    def needs_sklearn() -> None:
        raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")

    with pytest.raises(typer.Exit) as exit_info:
        needs_sklearn()
    assert exit_info.value.exit_code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "needs the package 'sklearn'" in error


@pytest.fixture
def model_dir(tmp_path: Path, reviews_csv: Path) -> Path:
    """A linear model trained on the tiny corpus, in ``tmp_path / "model"``."""
    from modelcycle.data import load_dataset
    from modelcycle.models import save_model
    from modelcycle.models.linear import TfidfLogisticRegression

    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1).fit(data.texts, data.labels)
    return save_model(model, tmp_path / "model")


def test_predict_says_where_the_stored_threshold_changed_the_answer(
    tmp_path: Path, runner: CliRunner, model_dir: Path, reviews_csv: Path
) -> None:
    from modelcycle.artifacts import update_model_meta

    threshold = {"label": "positive", "value": 0.95, "metric": "f1"}
    update_model_meta(model_dir, {"postprocess": {"temperature": 1.0, "threshold": threshold}})
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(model_dir), str(reviews_csv), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    frame = pl.read_csv(out)
    top = pl.when(pl.col("score_positive") > pl.col("score_negative"))
    top_label = top.then(pl.lit("positive")).otherwise(pl.lit("negative"))
    expected = frame.select(pl.col("predicted") != top_label)["predicted"]
    assert frame["changed_by_threshold"].to_list() == expected.to_list()
    changed = int(expected.sum())
    assert changed >= 2
    assert result.stdout.splitlines()[1] == (
        f"{changed} predictions differ from the top score because of the stored threshold 0.95 "
        "on 'positive', tuned for f1 (column changed_by_threshold; --raw ignores the threshold)"
    )
    result = runner.invoke(app, ["predict", str(model_dir), "--text", POSITIVE[0]])
    assert json.loads(result.stdout)["changed_by_threshold"] is True


def test_predict_counts_in_the_singular(tmp_path: Path, runner: CliRunner, model_dir: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text('text\nlovely\n""\n', encoding="utf-8")
    out = tmp_path / "p.csv"
    args = ["predict", str(model_dir), str(data), "-o", str(out), "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        f"wrote 1 prediction to {out}; skipped 1 bad row \\(listed above\\); "
        r"[\d,]+ rows/s on 1 thread\n",
        result.stdout,
    )


@pytest.mark.parametrize("out", ["in.csv", "./in.csv", "sub/../in.csv", "ABSOLUTE", "link.csv"])
def test_predict_refuses_to_overwrite_its_input(
    tmp_path: Path, runner: CliRunner, model_dir: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("sub").mkdir()
    Path("in.csv").write_text("text,note\ngreat,keep me\n", encoding="utf-8")
    Path("link.csv").symlink_to("in.csv")
    out = str(tmp_path / "in.csv") if out == "ABSOLUTE" else out
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["predict", str(model_dir), "in.csv", "-o", out])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: in.csv: the output {Path(out)} would overwrite the input; choose another -o\n"
    )
    assert Path("in.csv").read_text(encoding="utf-8") == "text,note\ngreat,keep me\n"
    assert sorted(tmp_path.iterdir()) == before


def test_predict_on_a_header_only_file_is_an_error_and_writes_nothing(
    tmp_path: Path, runner: CliRunner, model_dir: Path
) -> None:
    data = tmp_path / "header.csv"
    data.write_text("id,text\n", encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(
        app, ["predict", str(model_dir), str(data), "-o", str(tmp_path / "p.csv")]
    )
    assert result.exit_code == 1
    assert (result.stdout, result.stderr) == (
        "",
        f"error: {data}: no data rows (the file has only a header)\n",
    )
    assert sorted(tmp_path.iterdir()) == before


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_predict_removes_what_a_killed_predict_of_the_same_output_left(
    tmp_path: Path, runner: CliRunner, model_dir: Path, reviews_csv: Path
) -> None:
    dead = dead_pid()
    stale = [f".p.csv.{dead}.abcd_123.tmp", f".p.csv.{dead}.abcd_123.tmp.plain"]
    unrelated = [f".q.csv.{dead}.abcd_123.tmp", "p.csv.notes"]
    for name in stale + unrelated:
        (tmp_path / name).write_text("left over", encoding="utf-8")
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(model_dir), str(reviews_csv), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["model", "p.csv", "reviews.csv", *unrelated])


def test_predict_interrupted_by_ctrl_c_exits_130_and_says_so(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, reviews_csv: Path
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("modelcycle.prediction.predict_file", interrupted)
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", "model", str(reviews_csv), "-o", str(out)])
    assert result.exit_code == 130
    assert result.stderr == f"error: interrupted by SIGINT; nothing was written to {out}\n"


def test_predict_stopped_by_sigterm_midway_leaves_no_temporary_file(
    tmp_path: Path, model_dir: Path
) -> None:
    data = tmp_path / "big.csv"
    pl.DataFrame({"text": [f"{POSITIVE[i % 12]} {i}" for i in range(300_000)]}).write_csv(data)
    out = tmp_path / "p.csv"
    command = [sys.executable, "-m", "modelcycle", "predict", str(model_dir), str(data)]
    process = subprocess.Popen(
        [*command, "-o", str(out), "--threads", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    temporary: list[Path] = []
    while not temporary and process.poll() is None:  # wait until it is writing
        time.sleep(0.01)
        temporary = list(tmp_path.glob(".p.csv.*.tmp"))
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=300)
    assert temporary, f"predict ended before writing: {stdout}{stderr}"
    assert (process.returncode, stdout) == (143, "")
    assert stderr == f"error: interrupted by SIGTERM; nothing was written to {out}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "model", "reviews.csv"]
