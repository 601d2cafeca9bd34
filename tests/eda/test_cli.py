"""``modelcycle eda``: output, exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app


def test_eda_writes_json_and_html(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    out = tmp_path / "eda"
    result = runner.invoke(
        app, ["eda", str(reviews_csv), "-o", str(out), "--compare", str(reviews_csv)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"24 rows, 2 labels, 0 duplicates, 0 conflicting; wrote {out / 'eda.json'} and "
        f"{out / 'eda.html'}\n"
    )
    data = json.loads((out / "eda.json").read_text())
    assert data["text_column"] == "review_text"
    assert data["labels"] == {"negative": 12, "positive": 12}
    assert data["compare"]["overlap"]["exact_rows"] == 24
    assert "stars" in data["numeric"]


def test_columns_can_be_chosen_and_labels_left_out(tmp_path: Path, runner: CliRunner) -> None:
    data = tmp_path / "notes.csv"
    data.write_text("id,body\n1,first note here\n2,second note here\n", encoding="utf-8")
    result = runner.invoke(app, ["eda", str(data), "--text", "body", "-o", str(tmp_path / "e")])
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "e" / "eda.json").read_text())
    assert report["labels"] == {}
    assert report["ngrams"]["2"][0] == ["note here", 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "missing.csv: file not found"),
        (["reviews.csv", "--text", "body"], "text column 'body' not found; columns are:"),
        (["reviews.csv", "--compare", "nope.csv"], "nope.csv: file not found"),
        (["reviews.csv", "--label", "stars", "--compare", "other.csv"], "other.csv:"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_writes_nothing(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path, args: list[str], message: str
) -> None:
    (tmp_path / "other.csv").write_text("review_text\nno label column here\n", encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(
        app,
        [
            "eda",
            *[str(tmp_path / a) if a.endswith(".csv") else a for a in args],
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert sorted(tmp_path.iterdir()) == before


def test_a_directory_it_did_not_write_is_refused(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    result = runner.invoke(app, ["eda", str(reviews_csv), "-o", str(mine)])
    assert result.exit_code == 1
    assert "exists and is not a directory modelcycle wrote" in result.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "args", [["eda"], ["eda", "data.csv"], ["eda", "d.csv", "-o", "x", "--seed", "many"]]
)
def test_bad_usage_exits_2(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_max_labels_bounds_the_per_label_parts(tmp_path: Path, runner: CliRunner) -> None:
    data = tmp_path / "topics.csv"
    rows = [f"text about topic {i},t{i}" for i in range(5)] + ["more on topic zero,t0"]
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "eda"
    result = runner.invoke(app, ["eda", str(data), "-o", str(out), "--max-labels", "2"])
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "eda.json").read_text())
    assert list(report["ngrams_by_label"]) == ["t0", "t1"]
    assert report["other_labels"] == {"count": 3, "rows": 3}
    assert report["settings"]["max_labels"] == 2
    bad = runner.invoke(app, ["eda", str(data), "-o", str(out), "--max-labels", "0"])
    assert bad.exit_code == 2
