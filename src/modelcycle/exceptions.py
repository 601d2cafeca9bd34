"""The one exception hierarchy of modelcycle.

Every error a user can cause is a :class:`ModelcycleError`; the CLI prints its message as one line
on stderr and exits with code 1. Third-party errors are mapped at the boundary
(``raise DataError(...) from exc``)::

    ModelcycleError
     ├── DataError          bad input data: a file, row or column (message names which)
     │    └── SchemaError   a column is missing, unknown or ambiguous
     ├── ConfigError        a bad config file, key or value
     ├── ArtifactError      a model or run directory that is missing, tampered or of another format
     │    └── ExportError   an exported graph that does not compute what the model computes
     └── NotFittedError     a model used before ``fit``
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "ExportError",
    "ModelcycleError",
    "NotFittedError",
    "SchemaError",
]


class ModelcycleError(Exception):
    """Base class of every error modelcycle raises on purpose."""


class DataError(ModelcycleError):
    """Bad input data. The message starts with where: ``file, row N, column 'c': what``.

    Rows are counted from 1 over the data records (the header is not a row).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.row = row
        self.column = column
        self.reason = message
        super().__init__(_locate(self.path, row, column) + message)


class SchemaError(DataError):
    """A column is missing, unknown or cannot be chosen automatically."""


class ConfigError(ModelcycleError, ValueError):
    """A bad configuration: unknown key, wrong type, value out of range."""


class ArtifactError(ModelcycleError):
    """A model or run directory that is missing, tampered with, or of an unknown format."""


class ExportError(ArtifactError):
    """An export whose graph disagrees with the model (the parity check), or a model that
    cannot be exported."""


class NotFittedError(ModelcycleError, AttributeError):
    """A model was used before ``fit`` (also an ``AttributeError``, as scikit-learn expects)."""


def _locate(path: Path | None, row: int | None, column: str | None) -> str:
    parts = []
    if path is not None:
        parts.append(str(path))
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts) + ": " if parts else ""
