"""``manifest.json`` and ``modelcycle verify``: every file with its SHA-256; one changed byte of
any file, a missing file and an added file are each named."""

import json
from pathlib import Path

from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.pipeline import verify_run


def test_a_fresh_run_verifies(made_run: Path, runner: CliRunner) -> None:
    manifest = json.loads((made_run / "manifest.json").read_text())
    files = {p.relative_to(made_run).as_posix() for p in made_run.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    assert manifest["config"]["quantize"]["precisions"] == ["int8"]
    assert {"system", "machine", "processor", "cpus", "python"} <= set(manifest["machine"])
    assert "numpy" in manifest["packages"]
    result = runner.invoke(app, ["verify", str(made_run)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"ok: {made_run}: all {len(files) - 1:,} files match manifest.json\n"


def test_one_flipped_byte_of_any_file_is_named(run_copy: Path) -> None:
    listed = json.loads((run_copy / "manifest.json").read_text())["files"]
    assert len(listed) > 30
    for name in listed:
        path = run_copy / name
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        check = verify_run(run_copy)
        assert (check.changed, check.missing, check.extra) == ([name], [], []), name
        path.write_bytes(original)
    assert verify_run(run_copy).ok


def test_the_cli_names_changed_missing_and_extra_files(run_copy: Path, runner: CliRunner) -> None:
    weights = run_copy / "model" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    (run_copy / "predictions.csv").unlink()
    (run_copy / "eda" / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["verify", str(run_copy)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "changed: model/weights.safetensors (its SHA-256 differs from manifest.json)",
        "missing: predictions.csv (listed in manifest.json)",
        "extra: eda/notes.txt (not listed in manifest.json)",
    ]
    assert result.stderr == f"error: {run_copy}: 3 file(s) differ from manifest.json\n"


def test_a_directory_without_a_manifest(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path / 'manifest.json'}: missing; {tmp_path} is not a run directory "
        "(write one with modelcycle run)\n"
    )
