"""Reading CSV, TSV, Parquet and JSONL files (optionally compressed) into Arrow tables.

The parsers are pyarrow's multi-threaded readers; Python only runs on the error path, to find the
row and column a parser rejected so that the message can name them.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from modelcycle.exceptions import DataError

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2"}
SUPPORTED = ".csv, .tsv, .parquet, .jsonl (each optionally .gz or .bz2)"


def file_format(path: Path) -> tuple[str, str | None]:
    """Return ``(format, compression)`` from a path's extensions, e.g. ``('csv', 'gzip')``."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise DataError(
            f"unsupported file type {''.join(path.suffixes)!r}; use {SUPPORTED}", path=path
        )
    return fmt, compression


def read_columns(path: Path, *, encoding: str = "utf-8") -> list[str]:
    """The column names of a data file, read from its first block only."""
    fmt, compression = _check_file(path)
    if fmt == "parquet":
        return list(_parquet().read_schema(_parquet_source(path, compression)).names)
    if fmt == "jsonl":
        first_block = _read_json_table(path, compression, encoding, block_only=True)
        return list(first_block.column_names)
    try:
        reader = pa_csv.open_csv(
            str(path),
            read_options=_csv_read_options(encoding),
            # the names are all that is read here: a broken record is the reader's to report
            parse_options=_csv_parse_options(fmt, invalid_row_handler=lambda row: "skip"),
        )
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, fmt, encoding, exc) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc
    return list(reader.schema.names)


def read_table(
    path: Path, *, encoding: str = "utf-8", string_columns: Iterable[str] = ()
) -> pa.Table:
    """Read a whole data file; ``string_columns`` are read as text whatever they look like."""
    fmt, compression = _check_file(path)
    strings = list(string_columns)
    if fmt == "parquet":
        table = _parquet().read_table(_parquet_source(path, compression))
    elif fmt == "jsonl":
        table = _read_json_table(path, compression, encoding)
        _check_utf8(path, table)
    else:
        table = _read_csv_table(path, fmt, encoding, strings)
    return _cast_to_string(path, table, strings)


def iter_batches(
    path: Path,
    *,
    encoding: str = "utf-8",
    string_columns: Iterable[str] = (),
    block_size: int = 1 << 24,
    columns: Sequence[str] | None = None,
    on_invalid_row: Callable[[int | None, str], None] | None = None,
) -> Iterator[pa.Table]:
    """Read a data file block by block, so that memory stays bounded whatever its size.

    CSV and TSV stream in blocks of about ``block_size`` bytes with every column read as text, so
    that values a stage does not touch are written back exactly as they were; JSONL streams in
    blocks too; Parquet streams by batches of rows. ``string_columns`` are text in every format.
    ``columns``, the file's column names when the caller has read them already, saves a re-read.
    ``on_invalid_row(line, problem)``, when given, is called for each CSV/TSV record with the
    wrong number of fields (its line in the file, header included, and what is wrong) and the
    record is skipped; without it such a record is a DataError.
    """
    fmt, compression = _check_file(path)
    strings = list(string_columns)
    if fmt == "parquet":
        parquet = _parquet().ParquetFile(_parquet_source(path, compression))
        for batch in parquet.iter_batches(batch_size=1 << 16):
            yield _cast_to_string(path, pa.Table.from_batches([batch]), strings)
    elif fmt == "jsonl":
        yield from _iter_json(path, compression, encoding, strings, block_size)
    else:
        names = list(columns) if columns is not None else read_columns(path, encoding=encoding)
        yield from _iter_csv(path, fmt, encoding, block_size, names, on_invalid_row)


def _iter_csv(
    path: Path,
    fmt: str,
    encoding: str,
    block_size: int,
    columns: list[str],
    on_invalid_row: Callable[[int | None, str], None] | None = None,
) -> Iterator[pa.Table]:
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
    )
    parse = _csv_parse_options(fmt)
    if on_invalid_row is not None:

        def skip(row: Any) -> str:
            problem = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            on_invalid_row(row.number, f"{problem} ({row.text[:60]!r})")
            return "skip"

        parse = _csv_parse_options(fmt, invalid_row_handler=skip)
    try:
        reader = pa_csv.open_csv(
            str(path),
            # one parsing thread when rows are reported: pyarrow then knows their line numbers
            read_options=pa_csv.ReadOptions(
                encoding=encoding, block_size=block_size, use_threads=on_invalid_row is None
            ),
            parse_options=parse,
            convert_options=convert,
        )
        for batch in reader:
            yield pa.Table.from_batches([batch])
    except pa.ArrowInvalid as exc:
        if "invalid UTF8" in str(exc):
            _read_csv_table(path, fmt, encoding, columns)  # raises naming the row and column
        raise _csv_error(path, fmt, encoding, exc) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc


def _iter_json(
    path: Path, compression: str | None, encoding: str, strings: list[str], block_size: int
) -> Iterator[pa.Table]:
    stream = _open_text_stream(path, compression, encoding)
    try:
        reader = pa_json.open_json(stream, read_options=pa_json.ReadOptions(block_size=block_size))
        for batch in reader:
            table = pa.Table.from_batches([batch])
            _check_utf8(path, table)
            yield _cast_to_string(path, table, strings)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _json_error(path, compression, encoding, exc) from exc
    finally:
        stream.close()


def _check_file(path: Path) -> tuple[str, str | None]:
    fmt, compression = file_format(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a data file", path=path)
    if path.stat().st_size == 0 or _decompressed_is_empty(path, compression):
        raise DataError("file is empty", path=path)
    return fmt, compression


def _decompressed_is_empty(path: Path, compression: str | None) -> bool:
    if compression is None:
        return False
    opener: Any = gzip.open if compression == "gzip" else bz2.open
    try:
        with opener(path, "rb") as handle:
            return handle.read(1) == b""
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot decompress ({exc})", path=path) from exc


def _csv_read_options(encoding: str) -> pa_csv.ReadOptions:
    return pa_csv.ReadOptions(encoding=encoding, block_size=1 << 24)


def _csv_parse_options(fmt: str, **kwargs: Any) -> pa_csv.ParseOptions:
    return pa_csv.ParseOptions(
        delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True, **kwargs
    )


def _read_csv_table(path: Path, fmt: str, encoding: str, strings: list[str]) -> pa.Table:
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in strings}, strings_can_be_null=False
    )
    try:
        return pa_csv.read_csv(
            str(path),
            read_options=_csv_read_options(encoding),
            parse_options=_csv_parse_options(fmt),
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:
        if "invalid UTF8" in str(exc):
            # Read the offending columns as bytes to find the first row that is not UTF-8.
            binary = {name: pa.binary() for name in strings}
            table = pa_csv.read_csv(
                str(path),
                read_options=_csv_read_options(encoding),
                parse_options=_csv_parse_options(fmt),
                convert_options=pa_csv.ConvertOptions(column_types=binary),
            )
            _raise_first_undecodable(path, table, strings)
        raise _csv_error(path, fmt, encoding, exc) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from exc


def _csv_error(path: Path, fmt: str, encoding: str, exc: pa.ArrowInvalid) -> DataError:
    """Turn a pyarrow parse error into a DataError naming the row, found by a serial re-read."""
    message = str(exc)
    if "Empty CSV file" in message:
        return DataError("file is empty", path=path)
    bad: list[Any] = []

    def remember(row: Any) -> str:
        bad.append(row)
        return "error"

    with contextlib.suppress(pa.ArrowInvalid, UnicodeDecodeError):
        pa_csv.read_csv(
            str(path),
            read_options=pa_csv.ReadOptions(encoding=encoding, use_threads=False),
            parse_options=_csv_parse_options(fmt, invalid_row_handler=remember),
        )
    if bad:
        row = bad[0]
        line = f"line {row.number}: " if row.number is not None else ""
        return DataError(
            f"{line}expected {row.expected_columns} fields, found {row.actual_columns} "
            f"({row.text[:60]!r}); check the quoting and the delimiter",
            path=path,
        )
    return DataError(f"cannot parse as {fmt.upper()}: {message.splitlines()[0]}", path=path)


def _raise_first_undecodable(path: Path, table: pa.Table, columns: list[str]) -> None:
    for name in columns:
        if name not in table.column_names or not pa.types.is_binary(table.schema.field(name).type):
            continue
        for index, value in enumerate(table.column(name).to_pylist()):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = value[exc.start : exc.start + 1].hex()
                raise DataError(
                    f"not valid UTF-8 (byte 0x{byte}); pass --encoding with the file's encoding "
                    "(e.g. --encoding latin-1) or re-save the file as UTF-8",
                    path=path,
                    row=index + 1,
                    column=name,
                ) from None


def _check_utf8(path: Path, table: pa.Table) -> None:
    """pyarrow's JSON reader does not validate UTF-8; find the first bad text if any."""
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type):
            continue
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            as_bytes = pa.chunked_array([chunk.view(pa.binary()) for chunk in column.chunks])
            _raise_first_undecodable(path, pa.table({name: as_bytes}), [name])


def _decode_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> DataError:
    return DataError(
        f"cannot decode as {encoding} ({exc.reason} at byte {exc.start}); pass --encoding "
        "with the file's encoding (e.g. --encoding latin-1) or re-save the file as UTF-8",
        path=path,
    )


def _open_text_stream(path: Path, compression: str | None, encoding: str) -> pa.NativeFile:
    stream = pa.input_stream(str(path), compression=compression)
    if codecs.lookup(encoding).name != "utf-8":
        stream = pa.transcoding_input_stream(stream, encoding, "utf-8")
    return stream


def _read_json_table(
    path: Path, compression: str | None, encoding: str, *, block_only: bool = False
) -> pa.Table:
    stream = _open_text_stream(path, compression, encoding)
    try:
        if block_only:
            data = stream.read(1 << 20)
            data = data[: data.rfind(b"\n") + 1] or data
            return pa_json.read_json(io.BytesIO(data.removeprefix(codecs.BOM_UTF8)))
        return pa_json.read_json(stream)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _json_error(path, compression, encoding, exc) from exc
    finally:
        stream.close()


def _json_error(path: Path, compression: str | None, encoding: str, exc: Exception) -> DataError:
    """Find the first JSONL line that is not a JSON object or changes a field's type."""
    opener: Any = {"gzip": gzip.open, "bz2": bz2.open}.get(compression or "", open)
    kinds: dict[str, type] = {}
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode(encoding).lstrip("\ufeff").strip()
            except UnicodeDecodeError as err:
                return _decode_error(path, encoding, err)
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                return DataError(f"line {number}: not valid JSON ({err.msg})", path=path)
            if not isinstance(record, Mapping):
                return DataError(f"line {number}: expected a JSON object per line", path=path)
            for key, value in record.items():
                if value is None:
                    continue
                seen = kinds.setdefault(key, type(value))
                if seen is not type(value) and {seen, type(value)} != {int, float}:
                    return DataError(
                        f"line {number}: {key!r} is {type(value).__name__} here but "
                        f"{seen.__name__} on earlier lines",
                        path=path,
                    )
    return DataError(f"cannot parse as JSONL: {str(exc).splitlines()[0]}", path=path)


def _parquet_source(path: Path, compression: str | None) -> str | pa.BufferReader:
    if compression is None:
        return str(path)
    with pa.input_stream(str(path), compression=compression) as stream:
        return pa.BufferReader(stream.read())


def _cast_to_string(path: Path, table: pa.Table, columns: list[str]) -> pa.Table:
    """Make ``columns`` plain strings (numbers and booleans become their text)."""
    for name in columns:
        if name not in table.column_names:
            continue
        index = table.column_names.index(name)
        column = table.column(index)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            continue
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            _raise_first_undecodable(path, table, [name])
        try:
            table = table.set_column(index, name, column.cast(pa.string()))
        except pa.ArrowException as exc:  # invalid values, or a type with no cast to text
            raise DataError(
                f"holds {column.type} values, expected text", path=path, column=name
            ) from exc
    return table


def _parquet() -> Any:
    """pyarrow's Parquet module, imported on first use (10 ms a CSV never needs)."""
    import pyarrow.parquet

    return pyarrow.parquet
