"""What both engines of :func:`~modelcycle.prediction.predict_file` share: the checks and column
choice before a run, the prediction of one chunk with its bad rows, the output columns, the
report and the progress bar."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle._wording import plural
from modelcycle.data import file_format, read_columns, resolve_columns
from modelcycle.exceptions import DataError, SchemaError
from modelcycle.models import TextClassifier
from modelcycle.postprocess import Threshold
from modelcycle.prediction._core import CHANGED_COLUMN, below_top_score, predict


@dataclass(frozen=True)
class BadRow:
    """A row :func:`predict_file` skipped: its ``row`` (counted from 1 over the records read,
    the header not counted) or, for a CSV record that could not be parsed, its ``line`` in the
    file; and why."""

    row: int | None
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class FilePredictions:
    """What :func:`predict_file` did: rows read, predicted and skipped, where, how fast, on which
    ``engine`` (``threads``: threads of the local engine, or actors of Ray's, each with its own
    model); and, when a stored ``threshold`` chose the labels, in how many rows it overrode the
    top score."""

    out: Path
    rows: int
    predicted: int
    bad_rows: int
    seconds: float
    threads: int
    threshold: Threshold | None = None
    changed_by_threshold: int = 0
    engine: str = "local"

    @property
    def rows_per_second(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "out": str(self.out), "rows_per_second": self.rows_per_second}

    def _workers(self) -> str:
        if self.engine == "ray":
            return plural(self.threads, "Ray actor")
        return plural(self.threads, "thread")

    def summary(self) -> str:
        """What was written, the rows skipped, the speed; and what the stored threshold changed."""
        skipped = f"; skipped {plural(self.bad_rows, 'bad row')} (listed above)"
        line = (
            f"wrote {plural(self.predicted, 'prediction')} to {self.out}"
            f"{skipped if self.bad_rows else ''}; "
            f"{self.rows_per_second:,.0f} rows/s on {self._workers()}"
        )
        if self.threshold is None:
            return line
        threshold, changed = self.threshold, self.changed_by_threshold
        tuned = f", tuned for {threshold.metric}" if threshold.metric else ""
        return (
            f"{line}\n{plural(changed, 'prediction')} {'differs' if changed == 1 else 'differ'} "
            f"from the top score because of the stored threshold {threshold.value:g} on "
            f"{threshold.label!r}{tuned} (column changed_by_threshold; --raw ignores the threshold)"
        )


@dataclass(frozen=True)
class FilePlan:
    """The checked input of a file prediction: the columns of ``data`` to ``keep`` (the id, the
    text, the label when there is one; in that order) and which one holds the text."""

    data: Path
    out: Path
    columns: list[str]
    keep: list[str]
    text_column: str


def plan_file(
    data: Path, out: Path, *, text: str | None, id_column: str | None, encoding: str
) -> FilePlan:
    """Check ``data`` and ``out`` and choose the columns, before any row is read: a DataError
    when ``out`` is ``data``, a SchemaError naming the columns when ``id_column`` is not one."""
    _refuse_to_overwrite(data, out)
    columns = read_columns(data, encoding=encoding)
    text_column, label_column = resolve_columns(
        data, text=text, encoding=encoding, require_label=False, columns=columns
    )
    if id_column is not None and id_column not in columns:
        raise SchemaError(
            f"id column {id_column!r} not found; columns are: {', '.join(columns)}", path=data
        )
    keep = list(dict.fromkeys(c for c in (id_column, text_column, label_column) if c))
    return FilePlan(data, out, columns, keep, text_column)


def nothing_predicted(data: Path, bad_rows: int) -> DataError:
    """The error of a run that predicted no row: the file has none, or every one is bad."""
    if not bad_rows:
        return DataError("no data rows (the file has only a header)", path=data)
    return DataError("nothing to write: every row is bad (each one is reported)", path=data)


def _refuse_to_overwrite(data: Path, out: Path) -> None:
    """A DataError when ``out`` is ``data`` by another name (relative path, symlink, hard link)."""
    same = out.resolve() == data.resolve() or (
        out.exists() and data.exists() and out.samefile(data)
    )
    if same:
        raise DataError(f"the output {out} would overwrite the input; choose another -o", path=data)


def predict_rows(
    model: TextClassifier, texts: list[str | None], raw: bool
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Labels and scores of the rows that have a text, and ``(index, reason)`` of those that do
    not or that the model cannot handle (found one by one when the chunk's call fails)."""
    failures = [(i, "no text") for i, t in enumerate(texts) if t is None or not t.strip()]
    empty = {i for i, _ in failures}
    good = [t for i, t in enumerate(texts) if i not in empty] if empty else texts
    try:
        answer = predict(model, good, raw=raw)  # type: ignore[arg-type]
        return answer.labels, answer.scores, failures
    except Exception:  # one text broke the chunk: find it, predict the rest
        labels, scores = [], []
        for i, t in enumerate(texts):
            if i in empty:
                continue
            try:
                one = predict(model, [t], raw=raw)  # type: ignore[list-item]
            except Exception as exc:
                failures.append((i, f"the model could not predict it ({exc})"))
                continue
            labels.append(one.labels[0])
            scores.append(one.scores[0])
        failures.sort()
        width = len(model.classes_)
        return (
            np.asarray(labels),
            np.asarray(scores).reshape(len(scores), width),
            failures,
        )


def labelled(
    frame: pl.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    classes: list[str],
    threshold: Threshold | None,
) -> pl.DataFrame:
    """``frame``'s columns, then ``predicted``, a ``score_<class>`` per class and, with a
    ``threshold``, ``changed_by_threshold``: the output rows of one chunk."""
    columns = {name: frame.get_column(name) for name in frame.columns}
    columns["predicted"] = pl.Series("predicted", [str(x) for x in labels], dtype=pl.String)
    for j, name in enumerate(classes):
        columns[f"score_{name}"] = pl.Series(scores[:, j], dtype=pl.Float64)
    if threshold is not None:
        columns[CHANGED_COLUMN] = pl.Series(below_top_score(labels, scores, classes))
    return pl.DataFrame(columns)


def known_rows(path: Path) -> int | None:
    """The row count when the file states it (Parquet), for the progress bar's total."""
    if file_format(path) != ("parquet", None):
        return None
    import pyarrow.parquet as pa_parquet

    return int(pa_parquet.ParquetFile(str(path)).metadata.num_rows)


class Bar:
    """Rows predicted, rows per second and (when known) time left, on stderr (rich)."""

    def __init__(self, enabled: bool | None, total: int | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Bar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]predict"),
                BarColumn(),
                MofNCompleteColumn() if self.total else TextColumn("{task.completed:,} rows"),
                TaskProgressColumn(show_speed=True),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("predict", total=self.total)
        return self

    def advance(self, rows: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=rows)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
