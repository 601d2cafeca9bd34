"""Writing tables in the format their file name asks for, atomically."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import polars as pl

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
