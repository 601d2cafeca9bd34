"""Writing tables in the format their file name asks for, atomically."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import polars as pl
import pyarrow.parquet as pa_parquet

from modelcycle._io import atomic_file
from modelcycle.data._read import file_format


def write_table(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV, TSV, Parquet or JSONL by ``path``'s extension (``.gz`` allowed)."""
    path = Path(path)
    fmt, compression = file_format(path)
    with atomic_file(path) as tmp:
        if compression is None:
            _write_plain(frame, fmt, tmp)
        else:
            plain = tmp.with_name(tmp.name + ".plain")
            try:
                _write_plain(frame, fmt, plain)
                opener = gzip.open if compression == "gzip" else bz2.open
                with plain.open("rb") as src, opener(tmp, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            finally:
                plain.unlink(missing_ok=True)
    return path


def _write_plain(frame: pl.DataFrame, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        frame.write_parquet(path)
    elif fmt == "jsonl":
        frame.write_ndjson(path)
    else:
        frame.write_csv(path, separator="\t" if fmt == "tsv" else ",")


class TableWriter:
    """Write a table batch by batch (CSV, TSV, JSONL or Parquet by ``path``'s extension).

    The file is built under a temporary name and appears at ``path`` only when the writer is
    closed without an error, so that a failure leaves nothing half-written::

        with TableWriter("out.csv") as writer:
            for frame in frames:
                writer.write(frame)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format, self.compression = file_format(self.path)
        self.rows = 0
        self._atomic = atomic_file(self.path)
        self._tmp = self._atomic.__enter__()
        self._handle: IO[bytes] | None = None
        self._parquet: Any = None
        self._header = True
        if self.format != "parquet":
            opener: Any = {"gzip": gzip.open, "bz2": bz2.open}.get(self.compression or "", open)
            self._handle = opener(self._tmp, "wb")

    def write(self, frame: pl.DataFrame) -> None:
        """Append ``frame``'s rows (the first frame written sets the columns)."""
        if self.format == "parquet":
            table = frame.to_arrow()
            if self._parquet is None:
                target = (
                    self._tmp.with_name(self._tmp.name + ".plain")
                    if self.compression
                    else self._tmp
                )
                self._parquet = pa_parquet.ParquetWriter(str(target), table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        elif self.format == "jsonl":
            assert self._handle is not None
            frame.write_ndjson(self._handle)
        else:
            assert self._handle is not None
            separator = "\t" if self.format == "tsv" else ","
            frame.write_csv(self._handle, separator=separator, include_header=self._header)
        self._header = False
        self.rows += frame.height

    def close(self, error: BaseException | None = None) -> None:
        """Finish the file; with ``error`` set, throw it away instead."""
        try:
            if self._handle is not None:
                self._handle.close()
            if self._parquet is not None:
                self._parquet.close()
                if self.compression:
                    _compress(
                        self._tmp.with_name(self._tmp.name + ".plain"), self._tmp, self.compression
                    )
        except BaseException as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if error is None:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(error)


def _compress(plain: Path, target: Path, compression: str) -> None:
    opener: Any = gzip.open if compression == "gzip" else bz2.open
    try:
        with plain.open("rb") as src, opener(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    finally:
        plain.unlink(missing_ok=True)
