"""``runs list`` and ``runs compare``: a table of runs; config and metric differences with
McNemar's test where the runs predicted the same test rows."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.config import PipelineConfig
from modelcycle.exceptions import ConfigError
from modelcycle.pipeline import compare_runs, list_runs, run
from tests.pipeline.conftest import tiny_config


@pytest.fixture(scope="module")
def runs(made_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``runs/`` with three runs: ``a`` (made_run), ``b`` (other C, same split), ``c`` (other
    split seed)."""
    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(made_run, root / "a")
    data = Path(json.loads((made_run / "config.json").read_text())["data"]["path"])
    run(tiny_config(data, C=0.01), root / "b")
    raw = tiny_config(data).to_dict()
    raw["split"]["seed"] = 3
    run(PipelineConfig.from_dict(raw), root / "c")
    (root / "notes").mkdir()
    return root


def test_list_runs(runs: Path, runner: CliRunner) -> None:
    rows = list_runs(runs)
    assert [Path(row["run"]).name for row in rows] == ["a", "b", "c"]
    summary = json.loads((runs / "b" / "run.json").read_text())
    assert rows[1] == {
        "run": str(runs / "b"),
        "created": summary["created"],
        "data": "reviews.csv",
        "model": "logreg",
        "rows": 24,
        "accuracy": summary["test_metrics"]["accuracy"],
        "macro_f1": summary["test_metrics"]["macro_f1"],
        "variant": summary["serve"]["variant"],
    }
    result = runner.invoke(app, ["runs", "list", str(runs)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "run", "created", "data", "model", "rows", "accuracy", "macro_f1", "variant",
    ]  # fmt: skip
    assert lines[2].split()[:5] == [
        str(runs / "b"),
        summary["created"],
        "reviews.csv",
        "logreg",
        "24",
    ]
    assert len(lines) == 4


def test_compare_pairs_runs_with_the_same_test_rows(runs: Path) -> None:
    result = compare_runs([runs / "a", runs / "b", runs / "c"]).result
    assert result["config_differences"] == {
        "split.seed": ["42", "42", "3"],
        "train.params.C": [None, "0.01", None],
    }
    same, other = result["paired"]
    assert same["same_rows"] is True
    assert same["n"] == 6
    assert 0.0 <= same["mcnemar"]["p_value"] <= 1.0
    metrics = {r["name"]: r["metrics"]["accuracy"] for r in result["runs"]}
    assert same["difference"] == pytest.approx(metrics["b"] - metrics["a"])
    assert other == {
        "a": "a",
        "b": "c",
        "same_rows": False,
        "verdict": "no paired test: the test rows differ",
    }


def test_compare_cli_writes_one_page(runs: Path, runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = runner.invoke(
        app, ["runs", "compare", str(runs / "a"), str(runs / "b"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"wrote {out / 'comparison.html'} and {out / 'comparison.json'}"
    )
    assert "b vs a: accuracy " in result.stdout
    page = (out / "comparison.html").read_text()
    assert "<h2>Paired tests</h2>" in page
    assert "<td>train.params.C</td>" in page


def test_compare_needs_two_runs(runs: Path, runner: CliRunner) -> None:
    with pytest.raises(ConfigError, match="runs compare needs two or more run directories"):
        compare_runs([runs / "a"])
    result = runner.invoke(
        app, ["runs", "compare", str(runs / "a"), str(runs / "notes"), "-o", "x"]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {runs / 'notes'}: not a run directory (no run.json; write one with modelcycle "
        "run)\n"
    )
