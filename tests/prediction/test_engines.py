"""Choosing the engine of predict_file and `modelcycle predict`; no Ray needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.exceptions import ConfigError
from modelcycle.prediction import predict_file


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text("text\ngreat\n", encoding="utf-8")
    return path


def test_engine_ray_without_the_extra_names_the_install_command(
    runner: CliRunner, model: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is missing
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["predict", str(model), str(data), "-o", str(out), "--engine", "ray"]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --engine ray needs Ray, which this installation lacks: "
        "pip install 'modelcycle[ray]'\n"
    )
    assert not out.exists()


def test_an_unknown_engine_is_bad_usage(runner: CliRunner, model: Path, data: Path) -> None:
    result = runner.invoke(
        app, ["predict", str(model), str(data), "-o", "x.csv", "--engine", "spark"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--engine'" in result.stderr
    assert "'spark' is not one of 'local'," in result.stderr


def test_an_address_needs_the_ray_engine(
    runner: CliRunner, model: Path, data: Path, tmp_path: Path
) -> None:
    args = ["predict", str(model), str(data), "-o", str(tmp_path / "o.csv"), "--address", "h:1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: an address is for the ray engine; add --engine ray or drop --address\n"
    )


def test_library_refuses_an_unknown_engine_and_a_loaded_model_on_ray(
    model: Path, data: Path, tmp_path: Path
) -> None:
    from modelcycle.models import load_model

    with pytest.raises(
        ConfigError, match=r"^unknown engine 'spark'; valid engines are: local, ray$"
    ):
        predict_file(model, data, tmp_path / "o.csv", engine="spark")
    with pytest.raises(
        ConfigError, match=r"loads the model in each actor: give a model directory$"
    ):
        predict_file(load_model(model), data, tmp_path / "o.csv", engine="ray")
