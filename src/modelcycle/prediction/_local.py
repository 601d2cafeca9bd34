"""The local engine of :func:`~modelcycle.prediction.predict_file`: one process streams the file
in chunks (memory stays bounded) and spreads them over threads (the featurizers' polars and
numpy work and ONNX Runtime release the GIL, so that threads use every core without a second
copy of the model), writing the output atomically and in order."""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import TableWriter, iter_batches
from modelcycle.models import TextClassifier
from modelcycle.prediction._core import CHANGED_COLUMN, stored_threshold
from modelcycle.prediction._rows import (
    BadRow,
    Bar,
    FilePlan,
    known_rows,
    labelled,
    nothing_predicted,
    predict_rows,
)


def predict_local(
    model: TextClassifier,
    plan: FilePlan,
    *,
    raw: bool,
    encoding: str,
    threads: int,
    chunk_rows: int,
    progress: bool | None,
    report: Callable[[BadRow], None],
) -> tuple[int, int, int]:
    """Predict ``plan``'s file into its output on ``threads`` threads; return the rows read,
    predicted, and changed by the stored threshold. Nothing is written when no row is
    predicted (a DataError says why)."""
    bad = 0

    def count(row: BadRow) -> None:
        nonlocal bad
        bad += 1
        report(row)

    reader = _Reader(plan.data, encoding, plan.keep, plan.columns, count)
    run = _Run(model, plan.text_column, raw, count)
    with reader, Bar(progress, known_rows(plan.data)) as bar, TableWriter(plan.out) as writer:
        run.predict_all(_chunks(reader.tables, plan.keep, chunk_rows), writer, bar, threads)
        if not run.predicted:  # raised inside the writer's block, so that nothing is written
            raise nothing_predicted(plan.data, bad)
    return run.rows, run.predicted, run.changed


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
        self.threshold = stored_threshold(model, raw)
        self.rows = self.predicted = self.changed = 0

    def predict_all(
        self, chunks: Iterator[pl.DataFrame], writer: TableWriter, bar: Bar, threads: int
    ) -> None:
        pool = ThreadPoolExecutor(threads, thread_name_prefix="predict") if threads > 1 else None
        pending: deque[tuple[pl.DataFrame, int, Future[Any] | None]] = deque()
        ahead = 2 * threads if pool is not None else 0
        try:
            for frame in chunks:
                future = None
                if pool is not None:
                    texts = frame.get_column(self.text_column).to_list()
                    future = pool.submit(predict_rows, self.model, texts, self.raw)
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
        bar: Bar,
    ) -> None:
        if future is not None:
            labels, scores, failures = future.result()
        else:
            texts = frame.get_column(self.text_column).to_list()
            labels, scores, failures = predict_rows(self.model, texts, self.raw)
        for index, reason in failures:
            self.report(BadRow(first_row + index, None, reason))
        if failures:
            good = np.ones(frame.height, dtype=bool)
            good[[index for index, _ in failures]] = False
            frame = frame.filter(pl.Series(good))
        if frame.height:
            output = labelled(frame, labels, scores, self.classes, self.threshold)
            if self.threshold is not None:
                self.changed += int(output.get_column(CHANGED_COLUMN).sum())
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
