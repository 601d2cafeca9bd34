"""Model and run directories on disk: data-only formats, SHA-256 manifests, atomic writes.

A model directory holds::

    model.json            format version, modelcycle version, family, labels, params,
                          preprocessing, precision, metrics
    weights.safetensors   every array the model needs (no pickle, loading runs no code)
    <name>.json           larger JSON documents such as a vocabulary
    <name>.onnx           an ONNX graph (exported and quantized variants; data, not code)
    manifest.json         every other file with its SHA-256 and size

Reading verifies the manifest (no file missing, changed or unexpected) and the format version
before anything is parsed, and refuses with an :class:`ArtifactError` that says how to fix it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from modelcycle._io import atomic_dir, sha256_file, write_bytes, write_json
from modelcycle._version import __version__
from modelcycle.exceptions import ArtifactError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "WEIGHTS_FILE",
    "ModelFiles",
    "read_json",
    "read_model_dir",
    "update_model_meta",
    "verify_manifest",
    "write_manifest",
    "write_model_dir",
]

FORMAT_VERSION = 1
MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "weights.safetensors"
_DOCUMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ModelFiles:
    """The verified contents of a model directory."""

    path: Path
    meta: dict[str, Any]
    tensors: dict[str, np.ndarray]
    documents: dict[str, Any]
    graphs: dict[str, bytes] = field(default_factory=dict)  # ``<name>.onnx`` files by file name


def write_model_dir(
    path: str | Path,
    *,
    meta: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
    documents: Mapping[str, Any] | None = None,
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a model directory atomically: ``path`` appears complete or not at all.

    ``files`` are other files to include by name, such as a training-curve PNG.

    An existing model directory at ``path`` is replaced; any other non-empty directory is refused.
    """
    path = Path(path)
    documents = dict(documents or {})
    for name in documents:
        if not _DOCUMENT_NAME.match(name) or name in ("model", "manifest"):
            raise ValueError(f"invalid document name {name!r}")
    model_json = {
        "format": "modelcycle-model",
        "format_version": FORMAT_VERSION,
        "modelcycle_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    with atomic_dir(path, replace_if=MANIFEST_FILE) as tmp:
        arrays = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
        write_bytes(tmp / WEIGHTS_FILE, save_safetensors(arrays))
        for name, document in documents.items():
            write_json(tmp / f"{name}.json", document)
        for name, data in (files or {}).items():
            if "/" in name or name.endswith(".json") or name in (WEIGHTS_FILE,):
                raise ValueError(f"invalid extra file name {name!r}")
            write_bytes(tmp / name, data)
        write_json(tmp / MODEL_FILE, model_json)
        write_manifest(tmp)
    return path


def read_model_dir(path: str | Path) -> ModelFiles:
    """Verify and read a model directory written by :func:`write_model_dir`."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not a model directory (it does not exist or is a file)")
    verify_manifest(path, strict=True)
    meta = read_json(path / MODEL_FILE)
    if meta.get("format") != "modelcycle-model":
        raise ArtifactError(f"{path / MODEL_FILE}: not a modelcycle model description")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        hint = (
            "upgrade modelcycle"
            if isinstance(version, int) and version > FORMAT_VERSION
            else ("re-create the model with this version of modelcycle")
        )
        raise ArtifactError(
            f"{path / MODEL_FILE}: model format version {version!r} is not supported "
            f"(this modelcycle reads version {FORMAT_VERSION}); {hint}"
        )
    _check_labels(meta.get("labels"), path / MODEL_FILE)
    try:
        tensors = dict(load_safetensors((path / WEIGHTS_FILE).read_bytes()))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"{path / WEIGHTS_FILE}: cannot read weights ({exc})") from exc
    documents = {
        file.stem: read_json(file, expect_object=False)
        for file in sorted(path.glob("*.json"))
        if file.name not in (MODEL_FILE, MANIFEST_FILE)
    }
    graphs = {file.name: file.read_bytes() for file in sorted(path.glob("*.onnx"))}
    return ModelFiles(path=path, meta=meta, tensors=tensors, documents=documents, graphs=graphs)


def _check_labels(labels: Any, where: Path) -> None:
    """Refuse a ``labels`` field that no classifier could have written: it must list two or more
    distinct labels, each a string or a number (the types scikit-learn's labels keep)."""
    if not isinstance(labels, list) or not all(
        isinstance(label, str | int | float) for label in labels
    ):
        raise ArtifactError(
            f"{where}: 'labels' must be a list of labels (strings or numbers), got "
            f"{type(labels).__name__} {str(labels)[:60]!r}; re-create the model"
        )
    if len(labels) < 2 or len(set(map(repr, labels))) != len(labels):
        raise ArtifactError(
            f"{where}: 'labels' must list two or more distinct labels, got {str(labels)[:60]}; "
            "re-create the model"
        )


def update_model_meta(path: str | Path, changes: Mapping[str, Any]) -> ModelFiles:
    """Set (or, with value None, remove) top-level entries of a model directory's ``model.json``.

    The directory is verified, copied with the new ``model.json`` and a new manifest under a
    temporary name, and swapped in: it is never seen half-updated. Returns the updated files.
    """
    files = read_model_dir(path)
    fixed = sorted(set(changes) & {"format", "format_version", "family", "labels"})
    if fixed:
        raise ValueError(f"{fixed[0]!r} describes the weights and cannot be changed")
    meta = dict(files.meta)
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    listed = read_json(files.path / MANIFEST_FILE)["files"]  # verified by read_model_dir
    with atomic_dir(files.path, replace_if=MANIFEST_FILE) as tmp:
        for name in listed:
            if name != MODEL_FILE:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(files.path / name, tmp / name)
        write_json(tmp / MODEL_FILE, meta)
        write_manifest(tmp)
    return ModelFiles(path=files.path, meta=meta, tensors=files.tensors, documents=files.documents)


def write_manifest(directory: str | Path) -> dict[str, Any]:
    """List every file under ``directory`` (recursively) with its SHA-256 and size."""
    directory = Path(directory)
    files = {
        file.relative_to(directory).as_posix(): {
            "sha256": sha256_file(file),
            "size": file.stat().st_size,
        }
        for file in sorted(directory.rglob("*"))
        if file.is_file() and file.relative_to(directory).as_posix() != MANIFEST_FILE
    }
    manifest = {
        "format": "modelcycle-manifest",
        "modelcycle_version": __version__,
        "files": files,
    }
    write_json(directory / MANIFEST_FILE, manifest)
    return manifest


def verify_manifest(directory: str | Path, *, strict: bool = True) -> dict[str, Any]:
    """Check every file listed in ``directory``'s manifest; ``strict`` also refuses extra files."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{directory}: no {MANIFEST_FILE}; this is not a directory modelcycle wrote"
        )
    manifest = read_json(manifest_path)
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArtifactError(f"{manifest_path}: has no 'files' table")
    for name, entry in listed.items():
        file = directory / name
        if not file.is_file():
            raise ArtifactError(f"{file}: listed in {MANIFEST_FILE} but missing")
        if file.stat().st_size != entry.get("size") or sha256_file(file) != entry.get("sha256"):
            raise ArtifactError(
                f"{file}: SHA-256 does not match {MANIFEST_FILE}; the file changed after "
                "modelcycle wrote it; re-create it rather than editing it"
            )
    if strict:
        present = {f.relative_to(directory).as_posix() for f in directory.rglob("*") if f.is_file()}
        extra = sorted(present - set(listed) - {MANIFEST_FILE})
        if extra:
            raise ArtifactError(
                f"{directory / extra[0]}: not listed in {MANIFEST_FILE}; remove it "
                "(a model directory holds only the files modelcycle wrote)"
            )
    return manifest


def read_json(path: Path, *, expect_object: bool = True) -> Any:
    """A JSON document of a model directory; ``ArtifactError`` (one line) when missing or bad."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from exc
    if expect_object and not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object")
    return data
