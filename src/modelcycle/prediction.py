"""Prediction: labels and per-class scores for new texts, in memory or from file to file.

:func:`predict_file` streams a file of any size in chunks (memory stays bounded), spreads the
chunks over threads (the featurizers' polars and numpy work and ONNX Runtime release the GIL,
so that threads use every core without a second copy of the model), writes the output
atomically and keeps going past a bad row.

A model's stored threshold (see :mod:`modelcycle.postprocess`) can make the answer differ from
the class with the top score; outputs then say so row by row, in a ``changed_by_threshold``
column (or record key), so that a reader never takes the difference for a bug.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle._wording import plural
from modelcycle.data import (
    Dataset,
    TableWriter,
    iter_batches,
    read_columns,
    resolve_columns,
    write_table,
)
from modelcycle.exceptions import DataError, SchemaError
from modelcycle.models import TextClassifier
from modelcycle.postprocess import Threshold

__all__ = [
    "BadRow",
    "FilePredictions",
    "Predictions",
    "predict",
    "predict_dataset",
    "predict_file",
]


CHANGED_COLUMN = "changed_by_threshold"
"""Column (and record key) that is true where the stored threshold, not the top score, chose
the label; present only when a threshold was applied."""


@dataclass(frozen=True)
class Predictions:
    """Predicted labels and class probabilities; ``scores[:, j]`` belongs to ``classes[j]``.

    ``threshold`` is the stored threshold that chose the labels (None: the top score did).
    """

    labels: np.ndarray
    scores: np.ndarray
    classes: list[str]
    threshold: Threshold | None = None

    def changed_by_threshold(self) -> np.ndarray:
        """Per text: whether the label is not the class with the top score (all False without a
        threshold)."""
        return _below_top_score(self.labels, self.scores, self.classes)

    def records(self) -> list[dict[str, Any]]:
        """One ``{"label": ..., "scores": {class: probability}}`` per text, plus
        ``"changed_by_threshold": bool`` when a threshold chose the labels."""
        records: list[dict[str, Any]] = [
            {"label": str(label), "scores": dict(zip(self.classes, map(float, row), strict=True))}
            for label, row in zip(self.labels, self.scores, strict=True)
        ]
        if self.threshold is not None:
            for record, changed in zip(records, self.changed_by_threshold(), strict=True):
                record[CHANGED_COLUMN] = bool(changed)
        return records

    def json_lines(self, texts: Sequence[str]) -> str:
        """One JSON object per text: the text and its :meth:`records` entry."""
        return "\n".join(
            json.dumps({"text": text, **record}, ensure_ascii=False)
            for text, record in zip(texts, self.records(), strict=True)
        )

    def score_columns(self) -> dict[str, np.ndarray]:
        """``score_<class>`` columns for a table."""
        return {f"score_{name}": self.scores[:, j] for j, name in enumerate(self.classes)}


def predict(model: TextClassifier, texts: Sequence[str], *, raw: bool = False) -> Predictions:
    """Predict ``texts`` with ``model``.

    The model's stored post-processing (``model.postprocess_``: temperature, then threshold) is
    applied, so that the scores are calibrated probabilities and the labels are what the model
    answers everywhere else; ``raw=True`` ignores it.

    Example::

        predict(load_model("model/"), ["I loved it"]).records()
        # [{'label': 'positive', 'scores': {'negative': 0.08, 'positive': 0.92}}]
    """
    scores = model.predict_proba(texts)
    classes = model.classes_.tolist()
    threshold = _threshold(model, raw)
    if model.postprocess_ is not None and not raw:
        labels, scores = model.postprocess_.apply(scores, classes)
    else:
        labels = np.asarray(classes)[np.argmax(scores, axis=1)]
    return Predictions(labels=labels, scores=scores, classes=classes, threshold=threshold)


def _threshold(model: TextClassifier, raw: bool) -> Threshold | None:
    """The stored threshold that :func:`predict` applies (None with ``raw`` or without one)."""
    return None if raw or model.postprocess_ is None else model.postprocess_.threshold


def _below_top_score(labels: np.ndarray, scores: np.ndarray, classes: list[str]) -> np.ndarray:
    """Per row: whether the label's score is below the row's top score."""
    if not len(labels):
        return np.zeros(0, dtype=bool)
    position = {name: j for j, name in enumerate(classes)}
    chosen = np.array([position[str(label)] for label in labels])
    label_scores = scores[np.arange(len(labels)), chosen]
    below: np.ndarray = label_scores < scores.max(axis=1)
    return below


def predict_dataset(
    model: TextClassifier, dataset: Dataset, out: str | Path, *, raw: bool = False
) -> Path:
    """Predict every row of ``dataset`` and write text, true label (if any), prediction and scores.

    The format follows ``out``'s extension: .csv, .tsv, .jsonl or .parquet (optionally .gz).
    ``raw`` as in :func:`predict`; when a stored threshold chose the labels, a
    ``changed_by_threshold`` column marks the rows where it overrode the top score.
    """
    predictions = predict(model, dataset.texts, raw=raw)
    columns: dict[str, Any] = {"text": dataset.frame.get_column(dataset.text)}
    if dataset.label is not None:
        columns["label"] = dataset.frame.get_column(dataset.label)
    columns["predicted"] = predictions.labels
    columns.update(predictions.score_columns())
    if predictions.threshold is not None:
        columns[CHANGED_COLUMN] = predictions.changed_by_threshold()
    return write_table(pl.DataFrame(columns), out)


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
    """What :func:`predict_file` did: rows read, predicted and skipped, where, how fast; and,
    when a stored ``threshold`` chose the labels, in how many rows it overrode the top score."""

    out: Path
    rows: int
    predicted: int
    bad_rows: int
    seconds: float
    threads: int
    threshold: Threshold | None = None
    changed_by_threshold: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "out": str(self.out), "rows_per_second": self.rows_per_second}

    def summary(self) -> str:
        """What was written, the rows skipped, the speed; and what the stored threshold changed."""
        skipped = f"; skipped {plural(self.bad_rows, 'bad row')} (listed above)"
        line = (
            f"wrote {plural(self.predicted, 'prediction')} to {self.out}"
            f"{skipped if self.bad_rows else ''}; "
            f"{self.rows_per_second:,.0f} rows/s on {plural(self.threads, 'thread')}"
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


CHUNK_ROWS = 4096
"""Rows per model call in :func:`predict_file`: large enough for the featurizers' vectorised
paths, small enough that several chunks per worker keep every core busy."""


def predict_file(
    model: str | Path | TextClassifier,
    data: str | Path,
    out: str | Path,
    *,
    text: str | None = None,
    id_column: str | None = None,
    raw: bool = False,
    encoding: str = "utf-8",
    threads: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool | None = None,
    on_bad_row: Callable[[BadRow], None] | None = None,
) -> FilePredictions:
    """Predict every row of the file ``data`` into ``out`` (.csv, .tsv, .jsonl or .parquet,
    optionally .gz), streaming: memory stays bounded whatever the file's size.

    ``out`` holds the ``id_column`` (if named), the text, the true label (if the file has a
    label column), ``predicted`` and one ``score_<class>`` column per class, row for row, and,
    when the model's stored threshold chose the labels, ``changed_by_threshold`` (true where the
    label is not the class with the top score). A row without text, a CSV record with the wrong
    number of fields, or a text the model cannot handle is skipped, reported to ``on_bad_row``
    and counted, and the rest goes on. A DataError (and no ``out``) when ``out`` is ``data`` or
    when no row can be predicted.

    ``model`` is a model directory or a loaded model; ``threads`` share the chunks (None: one
    per core).
    ``progress`` shows a bar on stderr (None: only on a terminal). The stored post-processing is
    applied as in :func:`predict` (``raw=True`` ignores it).

    Example::

        report = predict_file("model/", "reviews.csv.gz", "predictions.parquet", id_column="id")
        report.predicted, report.bad_rows, report.rows_per_second
    """
    from modelcycle.models import load_model

    start = time.perf_counter()
    data, out = Path(data), Path(out)
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
    loaded = model if isinstance(model, TextClassifier) else load_model(model)
    threads = threads or os.cpu_count() or 1
    bad: list[BadRow] = []

    def report(row: BadRow) -> None:
        bad.append(row)
        if on_bad_row is not None:
            on_bad_row(row)

    reader = _Reader(data, encoding, keep, columns, report)
    run = _Run(loaded, text_column, raw, report)
    with reader, _Bar(progress, _known_rows(data)) as bar, TableWriter(out) as writer:
        run.predict_all(_chunks(reader.tables, keep, chunk_rows), writer, bar, threads)
        if not run.predicted:  # raised inside the writer's block, so that nothing is written
            if not bad:
                raise DataError("no data rows (the file has only a header)", path=data)
            raise DataError("nothing to write: every row is bad (each one is reported)", path=data)
    return FilePredictions(
        out=out,
        rows=run.rows,
        predicted=run.predicted,
        bad_rows=len(bad),
        seconds=time.perf_counter() - start,
        threads=threads,
        threshold=run.threshold,
        changed_by_threshold=run.changed,
    )


def _refuse_to_overwrite(data: Path, out: Path) -> None:
    """A DataError when ``out`` is ``data`` by another name (relative path, symlink, hard link)."""
    same = out.resolve() == data.resolve() or (
        out.exists() and data.exists() and out.samefile(data)
    )
    if same:
        raise DataError(f"the output {out} would overwrite the input; choose another -o", path=data)


class _Reader:
    """The Arrow tables of ``data``; a broken CSV record goes to ``report``.

    Leaving the block early (an error, Ctrl-C, SIGTERM) closes the reader and waits until its
    read-ahead thread has let go of the Python callback that reports broken records: a process
    that exits before that is aborted by pyarrow ("terminate called without an active
    exception") instead of ending with its own exit code.
    """

    def __init__(
        self,
        data: Path,
        encoding: str,
        keep: list[str],
        columns: list[str],
        report: Callable[[BadRow], None],
    ) -> None:
        def invalid_record(line: int | None, problem: str) -> None:
            report(BadRow(None, line, problem))

        self.released = threading.Event()
        weakref.finalize(invalid_record, self.released.set)
        self.tables = iter_batches(
            data,
            encoding=encoding,
            string_columns=keep,
            columns=columns,
            on_invalid_row=invalid_record,
        )

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None and isinstance(self.tables, Generator):
            self.tables.close()
            self.released.wait(timeout=10)


class _Run:
    """The chunk loop of :func:`predict_file`: predicts chunks (on a thread pool when there are
    several threads, at most two chunks per thread ahead), writes them in order, counts."""

    def __init__(
        self, model: TextClassifier, text_column: str, raw: bool, report: Callable[[BadRow], None]
    ) -> None:
        self.model, self.text_column, self.raw, self.report = model, text_column, raw, report
        self.classes = [str(c) for c in model.classes_.tolist()]
        self.threshold = _threshold(model, raw)
        self.rows = self.predicted = self.changed = 0

    def predict_all(
        self, chunks: Iterator[pl.DataFrame], writer: TableWriter, bar: _Bar, threads: int
    ) -> None:
        pool = ThreadPoolExecutor(threads, thread_name_prefix="predict") if threads > 1 else None
        pending: deque[tuple[pl.DataFrame, int, Future[Any] | None]] = deque()
        ahead = 2 * threads if pool is not None else 0
        try:
            for frame in chunks:
                future = None
                if pool is not None:
                    texts = frame.get_column(self.text_column).to_list()
                    future = pool.submit(_predict_rows, self.model, texts, self.raw)
                pending.append((frame, self.rows + 1, future))
                self.rows += frame.height
                while len(pending) > ahead:
                    self._finish(*pending.popleft(), writer, bar)
            while pending:
                self._finish(*pending.popleft(), writer, bar)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _finish(
        self,
        frame: pl.DataFrame,
        first_row: int,
        future: Future[Any] | None,
        writer: TableWriter,
        bar: _Bar,
    ) -> None:
        if future is not None:
            labels, scores, failures = future.result()
        else:
            texts = frame.get_column(self.text_column).to_list()
            labels, scores, failures = _predict_rows(self.model, texts, self.raw)
        for index, reason in failures:
            self.report(BadRow(first_row + index, None, reason))
        if failures:
            good = np.ones(frame.height, dtype=bool)
            good[[index for index, _ in failures]] = False
            frame = frame.filter(pl.Series(good))
        if frame.height:
            output = _output(frame, labels, scores, self.classes)
            if self.threshold is not None:
                changed = _below_top_score(labels, scores, self.classes)
                output = output.with_columns(pl.Series(CHANGED_COLUMN, changed))
                self.changed += int(changed.sum())
            writer.write(output)
        self.predicted += frame.height
        bar.advance(frame.height + len(failures))


def _chunks(tables: Iterator[Any], keep: list[str], size: int) -> Iterator[pl.DataFrame]:
    """Polars frames of ``size`` rows (the last one shorter) from the reader's Arrow tables."""
    held: list[pl.DataFrame] = []
    count = 0
    for table in tables:
        frame = pl.from_arrow(table.select(keep))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(pl.col(c).cast(pl.String) for c in keep)
        held.append(frame)
        count += frame.height
        while count >= size:
            merged = pl.concat(held, rechunk=False)
            yield merged.head(size)
            rest = merged.slice(size)
            held, count = ([rest], rest.height) if rest.height else ([], 0)
    if count:
        yield pl.concat(held)


def _predict_rows(
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


def _output(
    frame: pl.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    classes: list[str],
) -> pl.DataFrame:
    columns = {name: frame.get_column(name) for name in frame.columns}
    columns["predicted"] = pl.Series("predicted", [str(x) for x in labels], dtype=pl.String)
    for j, name in enumerate(classes):
        columns[f"score_{name}"] = pl.Series(scores[:, j], dtype=pl.Float64)
    return pl.DataFrame(columns)


def _known_rows(path: Path) -> int | None:
    """The row count when the file states it (Parquet), for the progress bar's total."""
    from modelcycle.data import file_format

    if file_format(path) != ("parquet", None):
        return None
    import pyarrow.parquet as pa_parquet

    return int(pa_parquet.ParquetFile(str(path)).metadata.num_rows)


class _Bar:
    """Rows predicted, rows per second and (when known) time left, on stderr (rich)."""

    def __init__(self, enabled: bool | None, total: int | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
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
