"""File to file prediction, on one of two engines: ``local`` (threads in this process) or
``ray`` (Ray Data, one model per actor, on a local Ray or an existing cluster)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelcycle.exceptions import ConfigError
from modelcycle.models import TextClassifier, load_model
from modelcycle.prediction._core import stored_threshold
from modelcycle.prediction._local import predict_local
from modelcycle.prediction._ray import predict_on_ray
from modelcycle.prediction._rows import BadRow, FilePredictions, plan_file

ENGINES = ("local", "ray")
"""The engines :func:`predict_file` runs on."""

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
    engine: str = "local",
    address: str | None = None,
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

    ``engine="local"`` predicts in this process: ``model`` is a model directory or a loaded
    model, ``threads`` share the chunks (None: one per core). ``engine="ray"`` runs Ray Data
    (the ``ray`` extra): the file is read by Ray's readers and each of ``threads`` actors (None:
    one per core) loads the model directory ``model`` once; on a Ray it starts on this machine
    (loopback only, stopped at the end), or on the cluster at ``address``, whose nodes must see
    ``model`` and ``data`` at the same paths. Both engines write the same ``out``, one file in
    the order of ``data``, and report the same bad rows.
    ``progress`` shows a bar on stderr (None: only on a terminal). The stored post-processing is
    applied as in :func:`predict` (``raw=True`` ignores it).

    Example::

        report = predict_file("model/", "reviews.csv.gz", "predictions.parquet", id_column="id")
        report.predicted, report.bad_rows, report.rows_per_second
    """
    start = time.perf_counter()
    _check_engine(engine, address, model)
    plan = plan_file(Path(data), Path(out), text=text, id_column=id_column, encoding=encoding)
    loaded = model if isinstance(model, TextClassifier) else load_model(model)  # checks it
    workers = threads or os.cpu_count() or 1
    bad: list[BadRow] = []

    def report(row: BadRow) -> None:
        bad.append(row)
        if on_bad_row is not None:
            on_bad_row(row)

    common: dict[str, Any] = {"raw": raw, "encoding": encoding, "progress": progress}
    if engine == "ray":
        assert not isinstance(model, TextClassifier)
        rows, predicted, changed = predict_on_ray(
            Path(model), plan, actors=workers, address=address, report=report, **common
        )
    else:
        rows, predicted, changed = predict_local(
            loaded, plan, threads=workers, chunk_rows=chunk_rows, report=report, **common
        )
    return FilePredictions(
        out=plan.out,
        rows=rows,
        predicted=predicted,
        bad_rows=len(bad),
        seconds=time.perf_counter() - start,
        threads=workers,
        threshold=stored_threshold(loaded, raw),
        changed_by_threshold=changed,
        engine=engine,
    )


def _check_engine(engine: str, address: str | None, model: str | Path | TextClassifier) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; valid engines are: {', '.join(ENGINES)}")
    if engine == "local" and address is not None:
        raise ConfigError("an address is for the ray engine; add --engine ray or drop --address")
    if engine == "ray" and isinstance(model, TextClassifier):
        raise ConfigError("the ray engine loads the model in each actor: give a model directory")
