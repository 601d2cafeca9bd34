"""Make-like caching of the run's stages: a record per stage, written after its outputs.

``stages/<name>.json`` holds what the stage's outputs were made from: the SHA-256 of each input
(the files it reads, its upstream stages' outputs), its resolved config sections and the
modelcycle version, and the SHA-256 of each output. A stage is fresh, and skipped, when all of
these still hold; a stage killed before its record was written has none, and runs again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelcycle._io import sha256_file, write_json
from modelcycle._version import __version__

__all__ = ["RECORDS_DIR", "drop_record", "hash_outputs", "is_fresh", "read_record", "write_record"]

RECORDS_DIR = "stages"


def hash_outputs(run_dir: Path, outputs: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of every file of ``outputs`` (files, or directories walked recursively), by
    path relative to ``run_dir``; a missing output is left out."""
    hashes: dict[str, str] = {}
    for name in outputs:
        path = run_dir / name
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                hashes[file.relative_to(run_dir).as_posix()] = sha256_file(file)
    return hashes


def read_record(run_dir: Path, stage: str) -> dict[str, Any] | None:
    """The stage's record, or None when it has none (never ran, or was killed mid-stage)."""
    try:
        record: dict[str, Any] = json.loads((run_dir / RECORDS_DIR / f"{stage}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record


def drop_record(run_dir: Path, stage: str) -> None:
    """Forget a stage before it runs, so that a run killed mid-stage runs it again."""
    (run_dir / RECORDS_DIR / f"{stage}.json").unlink(missing_ok=True)


def write_record(
    run_dir: Path,
    stage: str,
    *,
    inputs: Mapping[str, str],
    config: Mapping[str, Any],
    outputs: tuple[str, ...],
    seconds: float,
) -> dict[str, Any]:
    """Record a finished stage (its outputs already written); returns the record."""
    record = {
        "stage": stage,
        "modelcycle_version": __version__,
        "config": json.loads(json.dumps(config)),
        "inputs": dict(inputs),
        "outputs": hash_outputs(run_dir, outputs),
        "seconds": round(seconds, 3),
    }
    write_json(run_dir / RECORDS_DIR / f"{stage}.json", record)
    return record


def is_fresh(
    run_dir: Path,
    record: Mapping[str, Any] | None,
    *,
    inputs: Mapping[str, str],
    config: Mapping[str, Any],
    outputs: tuple[str, ...],
) -> bool:
    """Whether ``record`` still describes the stage: same inputs, config, version and outputs."""
    return (
        record is not None
        and record.get("modelcycle_version") == __version__
        and record.get("config") == json.loads(json.dumps(config))
        and record.get("inputs") == dict(inputs)
        and record.get("outputs") == hash_outputs(run_dir, outputs)
        and bool(record.get("outputs"))
    )
