"""The run's ``manifest.json`` (every file with its SHA-256, the config, the package versions,
the machine) and :func:`verify_run`, which names every file that no longer matches it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcycle._io import sha256_file, write_json
from modelcycle._version import __version__
from modelcycle.config import PipelineConfig
from modelcycle.exceptions import ArtifactError

__all__ = ["MANIFEST_FILE", "RunCheck", "verify_run", "write_run_manifest"]

MANIFEST_FILE = "manifest.json"
# The packages whose versions decide what a run computes (those installed are listed).
PACKAGES = (
    "modelcycle", "numpy", "polars", "pyarrow", "scikit-learn", "scipy", "safetensors", "torch",
    "onnx", "onnxruntime", "transformers", "tokenizers", "fasttext-numpy2-wheel", "mlflow",
)  # fmt: skip


@dataclass(frozen=True)
class RunCheck:
    """What :func:`verify_run` found: files changed since the manifest, missing, or extra."""

    path: Path
    checked: int
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every listed file is there unchanged and no other file was added."""
        return not (self.changed or self.missing or self.extra)

    def lines(self) -> list[str]:
        """One line per problem: ``changed: model/weights.safetensors (SHA-256 differs)``."""
        return (
            [f"changed: {name} (its SHA-256 differs from {MANIFEST_FILE})" for name in self.changed]
            + [f"missing: {name} (listed in {MANIFEST_FILE})" for name in self.missing]
            + [f"extra: {name} (not listed in {MANIFEST_FILE})" for name in self.extra]
        )


def _files(run_dir: Path) -> list[Path]:
    return sorted(
        file
        for file in run_dir.rglob("*")
        if file.is_file() and file.relative_to(run_dir).as_posix() != MANIFEST_FILE
    )


def write_run_manifest(run_dir: Path, config: PipelineConfig) -> dict[str, Any]:
    """Write ``manifest.json``: every other file with its SHA-256 and size, the config, the
    versions of the packages that compute the run, and the machine it ran on."""
    manifest = {
        "format": "modelcycle-run-manifest",
        "modelcycle_version": __version__,
        "files": {
            file.relative_to(run_dir).as_posix(): {
                "sha256": sha256_file(file),
                "size": file.stat().st_size,
            }
            for file in _files(run_dir)
        },
        "config": config.to_dict(),
        "packages": _package_versions(),
        "machine": _machine(),
    }
    write_json(run_dir / MANIFEST_FILE, manifest)
    return manifest


def verify_run(run_dir: str | Path) -> RunCheck:
    """Check every file of a run directory against its ``manifest.json``."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST_FILE
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: missing; {run_dir} is not a run directory (write one with modelcycle run)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: not a run manifest ({exc})") from exc
    present = {file.relative_to(run_dir).as_posix(): file for file in _files(run_dir)}
    changed = [
        name
        for name, entry in listed.items()
        if name in present
        and (
            present[name].stat().st_size != entry.get("size")
            or sha256_file(present[name]) != entry.get("sha256")
        )
    ]
    return RunCheck(
        path=run_dir,
        checked=len(listed),
        changed=changed,
        missing=sorted(set(listed) - set(present)),
        extra=sorted(set(present) - set(listed)),
    )


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _machine() -> dict[str, Any]:
    return {
        "system": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def _cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux; platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
