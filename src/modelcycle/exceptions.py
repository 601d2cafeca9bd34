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

DataError and ConfigError are also ``ValueError``s and NotFittedError is also scikit-learn's
``NotFittedError``, so that scikit-learn's tools (``cross_val_score``, ``GridSearchCV``,
``check_is_fitted``) treat them as they treat their own. NotFittedError is defined on first use:
scikit-learn's exceptions module imports all of scikit-learn (seconds), which ``import
modelcycle`` and ``modelcycle --help`` must not pay for.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


class DataError(ModelcycleError, ValueError):
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


if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

    class NotFittedError(ModelcycleError, _SklearnNotFittedError):
        """A model was used before ``fit``."""

else:
    _defining = threading.Lock()

    def __getattr__(name: str) -> Any:
        if name != "NotFittedError":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        with _defining:  # one class, even when two threads ask first
            if "NotFittedError" not in globals():
                globals()["NotFittedError"] = _not_fitted_error()
        return globals()["NotFittedError"]

    def _not_fitted_error() -> type:
        from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

        class NotFittedError(ModelcycleError, _SklearnNotFittedError):
            """A model was used before ``fit`` (also scikit-learn's ``NotFittedError``, a
            ``ValueError`` and an ``AttributeError``)."""

        NotFittedError.__qualname__ = "NotFittedError"
        return NotFittedError


def _locate(path: Path | None, row: int | None, column: str | None) -> str:
    parts = []
    if path is not None:
        parts.append(str(path))
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts) + ": " if parts else ""
