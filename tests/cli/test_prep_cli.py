"""The data-preparation commands: clean, features, split, datasets."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app

DIRTY = (
    "review_text,sentiment,stars\n"
    '"Loved it!<br /><br />Great cast.",pos,5\n'
    '"Loved it!<br /><br />Great cast.",pos,5\n'
    '"Dull &amp; long",neg,\n'
    '"No label",,3\n'
)


@pytest.fixture
def dirty_csv(tmp_path: Path) -> Path:
    path = tmp_path / "dirty.csv"
    path.write_text(DIRTY, encoding="utf-8")
    return path


def test_clean(tmp_path: Path, runner: CliRunner, dirty_csv: Path) -> None:
    out = tmp_path / "clean" / "reviews.csv"
    result = runner.invoke(
        app,
        [
            "clean",
            str(dirty_csv),
            "-o",
            str(out),
            "--label-map",
            "pos=positive,neg=negative",
            "--fill",
            "zero",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"wrote {out}: 2 of 4 rows\n"
        "removed 2 rows (1 missing_label, 1 duplicate)\n"
        "changed 2 rows (1 fill, 2 html, 2 label_map)\n"
        f"report: {out.parent / 'reviews.clean_report.json'}\n"
    )
    assert out.read_text(encoding="utf-8") == (
        "review_text,sentiment,stars\nLoved it! Great cast.,positive,5\nDull & long,negative,0\n"
    )
    assert dirty_csv.read_text(encoding="utf-8") == DIRTY


def test_clean_counts_in_the_singular(tmp_path: Path, runner: CliRunner) -> None:
    data = tmp_path / "one.csv"
    data.write_text("text,label\ngood <b>film</b>,pos\ngood <b>film</b>,pos\n", encoding="utf-8")
    out = tmp_path / "clean.csv"
    result = runner.invoke(app, ["clean", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        f"wrote {out}: 1 of 2 rows",
        "removed 1 row (1 duplicate)",
        "changed 1 row (1 html)",
    ]


def test_clean_label_issues_are_reported(tmp_path: Path, runner: CliRunner) -> None:
    rows = [f"wonderful lovely film {i},pos" for i in range(20)] + [
        f"awful boring film {i},neg" for i in range(20)
    ]
    rows[2] = "wonderful lovely film 2,neg"
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "c" / "d.csv"
    result = runner.invoke(app, ["clean", str(data), "-o", str(out), "--find-label-issues"])
    assert result.exit_code == 0, result.stderr
    assert (
        "label issues: 1 found, 0 removed\n  row 3: labeled 'neg', the model says 'pos'"
        in result.stdout
    )
    assert (out.parent / "d.label_issues.csv").read_text().startswith("row,label,suggested,")
    assert len(out.read_text().splitlines()) == 41


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--duplicates", "fuzzy"],
            1,
            "clean.duplicates must be one of none, exact, normalized, got 'fuzzy'",
        ),
        (
            ["--label", "stars2"],
            1,
            "label column 'stars2' not found; columns are: review_text, sentiment, stars",
        ),
        (["--label-map", "pos"], 2, "'pos' is not OLD=NEW"),
    ],
)
def test_clean_errors_are_one_line_and_write_nothing(
    tmp_path: Path, runner: CliRunner, dirty_csv: Path, args: list[str], code: int, message: str
) -> None:
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["clean", str(dirty_csv), "-o", str(tmp_path / "c.csv"), *args])
    assert result.exit_code == code
    assert result.stdout == ""
    assert message in " ".join(result.stderr.replace("│", " ").split())
    if code == 1:
        assert len(result.stderr.splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == before


def test_features(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    out = tmp_path / "f.parquet"
    result = runner.invoke(
        app, ["features", str(reviews_csv), "-o", str(out), "--features", "length,words"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"wrote {out}: 24 rows, added length, words\n"
    import polars as pl

    frame = pl.read_parquet(out)
    assert frame.columns == ["review_text", "sentiment", "stars", "length", "words"]
    assert frame.row(0)[3:] == (34, 7)
    bad = runner.invoke(app, ["features", str(reviews_csv), "-o", str(out), "--features", "size"])
    assert bad.exit_code == 1
    assert (
        bad.stderr
        == "error: unknown feature 'size'; valid features are: "
        + ", ".join(
            [
                "length",
                "words",
                "mean_word_length",
                "upper_share",
                "exclamations",
                "questions",
                "digits",
                "urls",
                "emoji",
                "negations",
            ]
        )
        + "\n"
    )


def test_split(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    out = tmp_path / "parts"
    args = [
        "split",
        str(reviews_csv),
        "-o",
        str(out),
        "--test",
        "0.25",
        "--val",
        "0.25",
        "--seed",
        "3",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "train        12 rows  negative 6, positive 6",
        "val           6 rows  negative 3, positive 3",
        "test          6 rows  negative 3, positive 3",
        "leakage guard on: 0 duplicate texts kept together, 0 texts inside others kept with them, "
        "0 texts in two parts",
        f"wrote {out / 'split.json'}",
    ]
    split = json.loads((out / "split.json").read_text())
    assert split["seed"] == 3
    assert split["test"]["rows"] == 6
    first = (out / "test.csv").read_bytes()
    assert runner.invoke(app, args).exit_code == 0  # a directory it wrote is replaced
    assert (out / "test.csv").read_bytes() == first


def test_split_by_group_and_errors(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> None:
    out = tmp_path / "parts"
    result = runner.invoke(
        app, ["split", str(reviews_csv), "-o", str(out), "--group", "stars", "--val", "0"]
    )
    assert result.exit_code == 1  # two groups (5 and 1 stars) cannot fill three shares
    assert re.fullmatch(r"error: .*reviews\.csv: cannot split 24 rows.*empty.*\n", result.stderr)
    assert not out.exists()
    result = runner.invoke(app, ["split", str(reviews_csv), "-o", str(out), "--group", "user"])
    assert result.exit_code == 1
    assert (
        "--group column 'user' not found; columns are: review_text, sentiment, stars"
        in result.stderr
    )
    result = runner.invoke(app, ["split", str(reviews_csv), "-o", str(out), "--test", "1.5"])
    assert result.exit_code == 1
    assert result.stderr == "error: split.test must be between 0 and 1, got 1.5\n"
    assert not out.exists()


def test_split_with_all_unique_labels_says_why(tmp_path: Path, runner: CliRunner) -> None:
    data = tmp_path / "unique.csv"
    rows = [f"text number {i},label {i}" for i in range(30)]
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "parts"
    result = runner.invoke(app, ["split", str(data), "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {data}, column 'label': cannot stratify by label: every label has a single row "
        "(30 labels in 30 rows), so no label can be in two parts and the test part would be "
        "empty; pass --no-stratify for a random split, or merge the rare labels\n"
    )
    assert not out.exists()
    result = runner.invoke(app, ["split", str(data), "-o", str(out), "--no-stratify"])
    assert result.exit_code == 0, result.stderr


def test_datasets_list_and_info(runner: CliRunner) -> None:
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "classes", "rows", "download", "licence"]
    assert lines[1].startswith("imdb                   2     50,000   84.1 MB  ")
    result = runner.invoke(app, ["datasets", "info", "imdb"])
    assert (
        "sha256:c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe" in result.stdout
    )
    result = runner.invoke(app, ["datasets", "download", "imbd", "-o", "x"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unknown dataset 'imbd'; valid datasets are: imdb, ")


def test_datasets_download_from_a_local_archive(tmp_path: Path, runner: CliRunner) -> None:
    # The real registry entry: a wrong local file fails the size check, nothing is written.
    fake = tmp_path / "SST-2.zip"
    fake.write_bytes(b"fake")
    out = tmp_path / "sst2"
    args = [
        "datasets",
        "download",
        "sst2",
        "-o",
        str(out),
        "--from",
        str(fake),
        "--cache",
        str(tmp_path / "c"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: {fake}: 4 bytes, expected 7,439,277; the download was cut short or the file "
        "changed upstream"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["list", "info", "download"])
def test_datasets_subcommands_have_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, ["datasets", command, "-h"])
    assert result.exit_code == 0
    assert f"Example: modelcycle datasets {command}" in result.stdout
