"""The Ray engine of :func:`~modelcycle.prediction.predict_file`: Ray Data reads the file
(``read_parquet``, ``read_csv``, ``read_json``), ``map_batches`` runs one model per actor (each
loads the model directory once, with modelcycle's safe loader) and the driver writes the batches,
in the file's order, into one output file, atomically, as the local engine does.

Rows keep their place (the dataset preserves order), so that the driver numbers them as the
local engine does and reports the same bad rows: a batch comes back with every row it took, a
bad one carrying its reason instead of a prediction; a broken CSV record is skipped by the reader
on a worker, which tells a small collector actor its line before the batch goes on.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import TableWriter, file_format
from modelcycle.exceptions import ConfigError, DataError, ModelcycleError
from modelcycle.models import load_model
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

INSTALL = "pip install 'modelcycle[ray]'"
REASON = "_bad_row"
"""Column of an actor's output batch: why a row could not be predicted (null for good rows)."""
OBJECT_STORE_BYTES = 1 << 30
"""Object store of a Ray started here: the stream needs a few batches in flight, not the file."""


def predict_on_ray(
    model_dir: Path,
    plan: FilePlan,
    *,
    raw: bool,
    encoding: str,
    actors: int,
    address: str | None,
    progress: bool | None,
    report: Callable[[BadRow], None],
) -> tuple[int, int, int]:
    """Predict ``plan``'s file into its output on ``actors`` Ray actors, each loading
    ``model_dir``; return the rows read, predicted, and changed by the stored threshold.
    Nothing is written when no row is predicted (a DataError says why)."""
    fmt, compression = _ray_format(plan.data, encoding)
    ray = _import_ray(local=address is None)
    rows = predicted = changed = bad = 0

    def count(row: BadRow) -> None:
        nonlocal bad
        bad += 1
        report(row)

    with _session(ray, address, actors), _quiet_ray_data():
        _check_room(ray, actors)
        collector = ray.remote(num_cpus=0)(_Collector).remote()
        predictor = (str(model_dir.resolve()), plan.keep, plan.text_column, raw)
        dataset = _read(ray, plan, fmt, compression, collector).map_batches(
            _Predictor,
            fn_constructor_args=predictor,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            max_restarts=0,
        )
        dataset.context.execution_options.preserve_order = True
        with (
            Bar(progress, known_rows(plan.data)) as bar,
            TableWriter(plan.out) as writer,
            _ray_errors(ray, plan.data),
        ):
            for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
                for line, problem in ray.get(collector.take.remote()):
                    count(BadRow(None, line, problem))
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                reasons = frame.get_column(REASON)
                for index in np.flatnonzero(reasons.is_not_null().to_numpy()):
                    count(BadRow(rows + int(index) + 1, None, str(reasons[int(index)])))
                good = frame.filter(reasons.is_null()).drop(REASON)
                if good.height:
                    writer.write(good)
                    if CHANGED_COLUMN in good.columns:
                        changed += int(good.get_column(CHANGED_COLUMN).sum())
                rows, predicted = rows + frame.height, predicted + good.height
                bar.advance(frame.height)
            for line, problem in ray.get(collector.take.remote()):
                count(BadRow(None, line, problem))
            if not predicted:  # raised inside the writer's block, so that nothing is written
                raise nothing_predicted(plan.data, bad)
    return rows, predicted, changed


def _check_room(ray: Any, actors: int) -> None:
    """A ConfigError when the actors would take every CPU of the Ray: its readers need one."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if actors >= cpus:
        fix = f"use --threads {cpus - 1} or fewer" if cpus > 1 else "give Ray 2 CPUs or more"
        raise ConfigError(
            f"{actors} actors leave no CPU for Ray's readers on a Ray of {cpus} CPUs; {fix}"
        )


def _ray_format(data: Path, encoding: str) -> tuple[str, str | None]:
    """The file's format and compression, refused where Ray's readers differ from ours."""
    fmt, compression = file_format(data)
    if codecs.lookup(encoding).name != "utf-8":
        raise ConfigError(
            f"the ray engine reads UTF-8 files only, not {encoding}; convert {data} to UTF-8 "
            "(e.g. with iconv) or use --engine local"
        )
    if fmt == "parquet" and compression is not None:
        raise ConfigError(
            f"the ray engine reads Parquet files as they are, not {compression}-compressed; "
            f"decompress {data} or use --engine local"
        )
    return fmt, compression


def _import_ray(*, local: bool) -> Any:
    """The ``ray`` module with Ray Data, or a ConfigError naming the extra to install.

    A Ray started here is told to stay on the loopback interface: Ray reads this switch when it
    is first imported, and with it its node address is 127.0.0.1 and its servers listen there
    only (otherwise they listen on every interface, for other nodes to join).
    """
    if local:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
        import ray.data
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"--engine ray needs Ray, which this installation lacks: {INSTALL}"
        ) from exc
    return ray


@contextlib.contextmanager
def _session(ray: Any, address: str | None, cpus: int) -> Iterator[None]:
    """Ray for the run: the one this process already joined, the cluster at ``address``, or a
    Ray started here with ``cpus`` CPUs for the actors and one for Ray's readers (listing and
    reading the file), no dashboard; stopped at the end."""
    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        options.update(
            address="local",
            num_cpus=cpus + 1,
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
        )
    else:
        options["address"] = address
    ray.init(**options)
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Ray Data's start-up lines, progress and advice (more actors than a small file's blocks)
    off stderr: the run has its own bar and report."""
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The minimum number of concurrent actors")
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _ray_errors(ray: Any, data: Path) -> Iterator[None]:
    """A failure on a worker as the error it was (a ModelcycleError) or as a DataError."""
    try:
        yield
    except ray.exceptions.RayError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, ModelcycleError):
            raise cause from exc
        reason = cause if cause is not None else exc
        first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason)
        raise DataError(f"Ray could not predict the file: {first}", path=data) from exc


def _read(ray: Any, plan: FilePlan, fmt: str, compression: str | None, collector: Any) -> Any:
    """The Ray dataset of ``plan``'s columns: every column as text for CSV and TSV (as in the
    local engine), broken CSV records skipped and told to ``collector``."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    path = str(plan.data.resolve())
    stream = {"compression": compression} if compression else None
    if fmt == "parquet":
        return ray.data.read_parquet(path, num_cpus=0).select_columns(plan.keep)
    if fmt == "jsonl":
        return ray.data.read_json(
            path, lines=True, file_extensions=None, arrow_open_stream_args=stream, num_cpus=0
        )
    return ray.data.read_csv(
        path,
        file_extensions=None,
        arrow_open_stream_args=stream,
        num_cpus=0,
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=1 << 22),
        parse_options=pa_csv.ParseOptions(
            delimiter="\t" if fmt == "tsv" else ",",
            newlines_in_values=True,
            invalid_row_handler=_SkipBroken(collector),
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(plan.columns, pa.string()),
            include_columns=plan.keep,
            strings_can_be_null=False,
        ),
    )


class _Collector:
    """Lines of the broken CSV records the readers skipped, until the driver takes them."""

    def __init__(self) -> None:
        self.records: list[tuple[int | None, str]] = []

    def add(self, line: int | None, problem: str) -> None:
        self.records.append((line, problem))

    def take(self) -> list[tuple[int | None, str]]:
        taken, self.records = self.records, []
        return taken


class _SkipBroken:
    """pyarrow's handler of a CSV record with the wrong number of fields, on a Ray worker: skip
    it, once the collector knows its line (so that the driver reports it before its batch)."""

    def __init__(self, collector: Any) -> None:
        self.collector = collector

    def __call__(self, row: Any) -> str:
        import ray

        problem = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        ray.get(self.collector.add.remote(row.number, f"{problem} ({row.text[:60]!r})"))
        return "skip"


class _Predictor:
    """One actor's model: loaded once from the model directory, then applied to each batch;
    the batch comes back with all its rows in order, a bad row carrying its reason."""

    def __init__(self, model_dir: str, keep: list[str], text_column: str, raw: bool) -> None:
        self.model = load_model(model_dir)
        self.keep, self.text_column, self.raw = keep, text_column, raw
        self.classes = [str(c) for c in self.model.classes_.tolist()]
        self.threshold = stored_threshold(self.model, raw)

    def __call__(self, batch: Any) -> Any:
        frame = pl.from_arrow(batch.select(self.keep))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(pl.col(c).cast(pl.String) for c in self.keep)
        texts = frame.get_column(self.text_column).to_list()
        labels, scores, failures = predict_rows(self.model, texts, self.raw)
        reasons: list[str | None] = [None] * frame.height
        for index, reason in failures:
            reasons[index] = reason
        bad = pl.Series(REASON, reasons, dtype=pl.String)
        good = labelled(frame.filter(bad.is_null()), labels, scores, self.classes, self.threshold)
        if failures:  # the good rows' predictions back in their places, null in the bad ones
            places = pl.Series("_place", np.flatnonzero(bad.is_null().to_numpy()))
            every = pl.DataFrame({"_place": np.arange(frame.height)})
            good = every.join(good.with_columns(places), on="_place", how="left").drop("_place")
        return good.with_columns(bad).to_arrow()
