"""The Ray engine against the local one, on a real Ray started for this module (loopback only,
two CPUs, no dashboard; stopped at the end). One actor each: the other CPU is the readers'."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.data import Dataset
from modelcycle.exceptions import ConfigError
from modelcycle.export import export_model
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.postprocess import Postprocess, Threshold
from modelcycle.prediction import BadRow, FilePredictions, predict_file
from tests.conftest import NEGATIVE, POSITIVE

# Ray reads this when first imported: the Ray of this module stays on the loopback interface
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="the ray extra is not installed")

MESSY_CSV = (
    "id,text\n"
    "1,a wonderful film\n"
    "2,\n"  # no text
    '3,"awful, boring",extra\n'  # three fields where the header has two
    "4,   \n"  # blank
    '5,"a great\nfilm"\n'
    "6,a tedious mess\n"
    "7,terrible\n"
    "8,brilliant and warm\n"
)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A Ray of two CPUs on this machine's loopback interface, for the whole module."""
    ray.init(num_cpus=2, include_dashboard=False, address="local", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported (ONNX) logreg with a stored threshold that overrides some top scores."""
    data = Dataset.from_records(POSITIVE + NEGATIVE, ["positive"] * 12 + ["negative"] * 12)
    model = TfidfLogisticRegression(min_df=1).fit(data.texts, data.labels)
    model.postprocess_ = Postprocess(threshold=Threshold("positive", 0.739, "f1"))
    path = tmp_path_factory.mktemp("ray") / "model"
    export_model(model, path)
    return path


def both_engines(model: Path, data: Path, **options: Any) -> list[tuple[FilePredictions, Any]]:
    """Each engine's report and (bad rows, output) on ``data``."""
    answers = []
    for engine in ("local", "ray"):
        bad: list[BadRow] = []
        out = data.with_name(f"{engine}.parquet")
        report = predict_file(model, data, out, engine=engine, on_bad_row=bad.append, **options)
        answers.append((report, ([str(b) for b in bad], pl.read_parquet(out))))
    return answers


def test_ray_matches_local_row_for_row_on_csv(
    local_ray: None, onnx_model: Path, tmp_path: Path
) -> None:
    data = tmp_path / "messy.csv"
    data.write_text(MESSY_CSV, encoding="utf-8")
    (local, local_rows), (on_ray, ray_rows) = both_engines(
        onnx_model, data, id_column="id", threads=1
    )
    assert (
        ray_rows[0]
        == local_rows[0]
        == [
            "line 4: expected 2 fields, found 3 ('3,\"awful, boring\",extra')",
            "row 2: no text",
            "row 3: no text",
        ]
    )
    frame = ray_rows[1]
    assert frame.equals(local_rows[1])
    assert frame.columns == [
        "id",
        "text",
        "predicted",
        "score_negative",
        "score_positive",
        "changed_by_threshold",
    ]
    assert frame["id"].to_list() == ["1", "5", "6", "7", "8"]
    assert frame["changed_by_threshold"].to_list() == [False, True, False, False, True]
    assert (
        (on_ray.rows, on_ray.predicted, on_ray.bad_rows, on_ray.changed_by_threshold)
        == (
            local.rows,
            local.predicted,
            local.bad_rows,
            local.changed_by_threshold,
        )
        == (7, 5, 3, local.changed_by_threshold)
    )
    assert (on_ray.engine, on_ray.threads, on_ray.threshold) == ("ray", 1, local.threshold)


def test_ray_matches_local_row_for_row_on_parquet(
    local_ray: None, onnx_model: Path, tmp_path: Path
) -> None:
    texts: list[str | None] = [*POSITIVE, None, *NEGATIVE, "  "] * 20
    labels = (["positive"] * 12 + [None] + ["negative"] * 12 + [None]) * 20
    data = tmp_path / "reviews.parquet"
    frame = pl.DataFrame({"key": range(1000, 1000 + len(texts)), "review": texts, "label": labels})
    frame.write_parquet(data, row_group_size=100)  # several row groups: several read tasks
    (local, local_rows), (on_ray, ray_rows) = both_engines(
        onnx_model, data, id_column="key", threads=1
    )
    assert ray_rows[0] == local_rows[0]
    assert ray_rows[0][:2] == ["row 13: no text", "row 26: no text"]
    assert len(ray_rows[0]) == 40
    assert ray_rows[1].equals(local_rows[1])
    assert ray_rows[1]["key"].to_list()[:13] == [str(k) for k in [*range(1000, 1012), 1013]]
    assert (on_ray.rows, on_ray.predicted) == (local.rows, local.predicted) == (520, 480)


def test_cli_predict_on_ray_reports_bad_rows_as_local_does(
    local_ray: None, onnx_model: Path, tmp_path: Path
) -> None:
    data = tmp_path / "in.csv"
    data.write_text(MESSY_CSV, encoding="utf-8")
    results = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.csv"
        args = ["predict", str(onnx_model), str(data), "-o", str(out), "--id", "id"]
        results[engine] = CliRunner().invoke(app, [*args, "--engine", engine, "--threads", "1"])
        assert results[engine].exit_code == 0, results[engine].stderr
    assert (
        results["ray"].stderr
        == results["local"].stderr
        == (
            f"{data}, line 4: expected 2 fields, found 3 ('3,\"awful, boring\",extra')\n"
            f"{data}, row 2: no text\n"
            f"{data}, row 3: no text\n"
        )
    )
    first_line = results["ray"].stdout.splitlines()[0]
    assert first_line.startswith(f"wrote 5 predictions to {tmp_path / 'ray.csv'}; skipped 3 ")
    assert first_line.endswith("rows/s on 1 Ray actor")
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_cli_predict_on_the_cluster_at_address(
    local_ray: None, onnx_model: Path, tmp_path: Path
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "great"}\n{"text": null}\n{"text": "awful"}\n', encoding="utf-8")
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "modelcycle", "predict", str(onnx_model), str(data)]
    done = subprocess.run(
        [*command, "-o", str(out), "--engine", "ray", "--address", address, "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"{data}, row 2: no text\n"
    assert pl.read_ndjson(out)["text"].to_list() == ["great", "awful"]


def test_actors_must_leave_a_cpu_for_the_readers(
    local_ray: None, onnx_model: Path, tmp_path: Path
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("text\ngreat\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"^2 actors leave no CPU for Ray's readers on a Ray of 2 CPUs; use --threads 1 or",
    ):
        predict_file(onnx_model, data, tmp_path / "out.csv", engine="ray", threads=2)
    assert not (tmp_path / "out.csv").exists()


def test_cli_predict_starts_and_stops_its_own_ray(onnx_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.tsv"
    data.write_text("id\ttext\na\tgreat\nb\t\nc\tawful\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    command = [sys.executable, "-m", "modelcycle", "predict", str(onnx_model), str(data)]
    done = subprocess.run(
        [*command, "-o", str(out), "--id", "id", "--engine", "ray", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"{data}, row 2: no text\n"
    assert done.stdout.startswith(f"wrote 2 predictions to {out}; skipped 1 bad row")
    assert pl.read_csv(out)["id"].to_list() == ["a", "c"]
