"""Reading CSV, TSV, Parquet and JSONL files (optionally compressed) into Arrow tables.

The parsers are pyarrow's multi-threaded readers; Python only runs on the error path, to find the
row and column a parser rejected so that the message can name them. No Python callback is handed
to a reader whose threads can outlive the call: such a thread, still running when the interpreter
exits, needs the GIL and aborts the process ("terminate called without an active exception").
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from modelcycle.exceptions import ConfigError, DataError

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2"}
SUPPORTED = ".csv, .tsv, .parquet, .jsonl (each optionally .gz or .bz2)"
HEADER_LIMIT = 1 << 20
"""The longest first line a CSV/TSV header may have: a longer one is not a line of names."""
_ROW_ERROR = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+): (.*)", re.DOTALL)


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
    fmt, compression = _check_file(path, encoding)
    if fmt == "parquet":
        return list(_parquet_schema(path, compression).names)
    if fmt == "jsonl":
        first_block = _read_json_table(path, compression, encoding, block_only=True)
        return list(first_block.column_names)
    return _read_csv_header(path, fmt, compression, encoding)


def check_text_columns(path: Path, columns: Iterable[str], *, encoding: str = "utf-8") -> None:
    """Raise a DataError if one of ``columns`` holds values that have no text form (lists,
    structs, maps), judged from the file's schema (Parquet) or first block (JSONL)."""
    fmt, compression = _check_file(path, encoding)
    if fmt == "parquet":
        schema = _parquet_schema(path, compression)
    elif fmt == "jsonl":
        schema = _read_json_table(path, compression, encoding, block_only=True).schema
    else:
        return  # every CSV/TSV field is text
    for name in columns:
        if name in schema.names and pa.types.is_nested(schema.field(name).type):
            kind = schema.field(name).type
            raise DataError(f"holds {kind} values, expected text", path=path, column=name)


def read_table(
    path: Path, *, encoding: str = "utf-8", string_columns: Iterable[str] = ()
) -> pa.Table:
    """Read a whole data file; ``string_columns`` are read as text whatever they look like."""
    fmt, compression = _check_file(path, encoding)
    strings = list(string_columns)
    with _reading(path, compression):
        if fmt == "parquet":
            table = _parquet().read_table(_parquet_source(path, compression))
        elif fmt == "jsonl":
            table = _read_json_table(path, compression, encoding)
            _check_utf8(path, table)
        else:
            table = _read_csv_table(path, fmt, compression, encoding, strings)
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
    fmt, compression = _check_file(path, encoding)
    strings = list(string_columns)
    with _reading(path, compression):
        if fmt == "parquet":
            parquet = _parquet().ParquetFile(_parquet_source(path, compression))
            for batch in parquet.iter_batches(batch_size=1 << 16):
                yield _cast_to_string(path, pa.Table.from_batches([batch]), strings)
        elif fmt == "jsonl":
            yield from _iter_json(path, compression, encoding, strings, block_size)
        else:
            names = list(columns) if columns is not None else read_columns(path, encoding=encoding)
            yield from _iter_csv(
                path, (fmt, compression), encoding, block_size, names, on_invalid_row
            )


def _iter_csv(
    path: Path,
    kind: tuple[str, str | None],
    encoding: str,
    block_size: int,
    columns: list[str],
    on_invalid_row: Callable[[int | None, str], None] | None = None,
) -> Iterator[pa.Table]:
    fmt, compression = kind
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
    )
    parse = _csv_parse_options(fmt)
    if on_invalid_row is not None:

        def skip(row: Any) -> str:
            problem = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            on_invalid_row(row.number, f"{problem} ({row.text[:60]!r})")
            return "skip"

        # called on an Arrow thread, but only while the caller waits for the next batch: with
        # use_threads=False the reader parses nothing ahead
        parse = _csv_parse_options(fmt, invalid_row_handler=skip)
    with _utf8_source(path, compression, encoding) as (source, _):
        try:
            reader = pa_csv.open_csv(
                source,
                # one parsing thread when rows are reported: pyarrow then knows their lines
                read_options=pa_csv.ReadOptions(
                    block_size=block_size, use_threads=on_invalid_row is None
                ),
                parse_options=parse,
                convert_options=convert,
            )
            for batch in reader:
                yield pa.Table.from_batches([batch])
        except pa.ArrowInvalid as exc:
            if "invalid UTF8" in str(exc):
                _read_csv_table(path, fmt, compression, encoding, columns)  # names row, column
            raise _csv_error(path, source, fmt, exc) from exc


def _iter_json(
    path: Path, compression: str | None, encoding: str, strings: list[str], block_size: int
) -> Iterator[pa.Table]:
    with (
        _utf8_source(path, compression, encoding) as (source, source_compression),
        pa.input_stream(source, compression=source_compression) as stream,
    ):
        try:
            options = pa_json.ReadOptions(block_size=block_size)
            for batch in pa_json.open_json(stream, read_options=options):
                table = pa.Table.from_batches([batch])
                _check_utf8(path, table)
                yield _cast_to_string(path, table, strings)
        except pa.ArrowInvalid as exc:
            raise _json_error(path, compression, encoding, exc) from exc


@contextlib.contextmanager
def _utf8_source(
    path: Path, compression: str | None, encoding: str
) -> Iterator[tuple[str, str | None]]:
    """``(file, compression)`` for pyarrow to read: the file itself when it is UTF-8, else a UTF-8
    copy in a temporary directory, transcoded here. (pyarrow's own transcoding runs Python on its
    I/O thread, which aborts the process when it still reads ahead as the interpreter exits.)"""
    if codecs.lookup(encoding).name == "utf-8":
        yield str(path), compression
        return
    with tempfile.TemporaryDirectory(prefix="modelcycle-") as tmp:
        copy = Path(tmp) / "utf8"
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        with _open_binary(path, compression) as src, copy.open("wb") as dst:
            while True:
                chunk = _read_chunk(path, compression, src, 1 << 20)
                try:
                    dst.write(decoder.decode(chunk, final=not chunk).encode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise _decode_error(path, encoding, exc, offset) from exc
                if not chunk:
                    break
                offset += len(chunk)
        yield str(copy), None


def _check_file(path: Path, encoding: str) -> tuple[str, str | None]:
    fmt, compression = file_format(path)
    _check_encoding(encoding)
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a data file", path=path)
    if path.stat().st_size == 0 or (compression and _read_head(path, compression, 1) == b""):
        raise DataError("file is empty", path=path)
    return fmt, compression


def _check_encoding(encoding: str) -> None:
    try:
        text = codecs.lookup(encoding)._is_text_encoding  # False for e.g. hex, base64, rot13
    except LookupError:
        text = False
    if not text:
        raise ConfigError(
            f"unknown encoding {encoding!r}; use a text encoding Python knows, e.g. utf-8, "
            "latin-1, cp1252 or utf-16"
        )


@contextlib.contextmanager
def _reading(path: Path, compression: str | None) -> Iterator[None]:
    """Name the file in a read error (pyarrow's say only e.g. 'Truncated compressed stream')."""
    try:
        yield
    except OSError as exc:
        if compression is None:
            raise DataError(f"cannot read ({exc})", path=path) from exc
        raise _damaged(path, compression, exc) from exc


def _damaged(path: Path, compression: str | None, exc: Exception) -> DataError:
    return DataError(
        f"cannot decompress ({exc}); the {compression} file is damaged or cut short", path=path
    )


def _open_binary(path: Path, compression: str | None) -> IO[bytes]:
    opener: Any = {"gzip": gzip.open, "bz2": bz2.open}.get(compression or "", open)
    handle: IO[bytes] = opener(path, "rb")
    return handle


def _read_chunk(path: Path, compression: str | None, handle: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes from ``handle``; a damaged compressed stream is a DataError."""
    try:
        return handle.read(size)
    except (OSError, EOFError) as exc:
        raise _damaged(path, compression, exc) from exc


def _read_head(path: Path, compression: str | None, size: int) -> bytes:
    """The first ``size`` bytes of the file, decompressed."""
    with _open_binary(path, compression) as handle:
        return _read_chunk(path, compression, handle, size)


def _read_csv_header(path: Path, fmt: str, compression: str | None, encoding: str) -> list[str]:
    """The names in the first record, found by Python and parsed by pyarrow from memory (a
    streaming reader would keep reading ahead on its threads after the names are known)."""
    head = _read_head(path, compression, HEADER_LIMIT + 1)
    whole = len(head) <= HEADER_LIMIT
    text = _decode_head(path, head, encoding, whole)
    end = _record_end(text)
    if end is None and not whole:
        kind = fmt.upper()
        raise DataError(
            f"the first line has no line end in its first {HEADER_LIMIT >> 20} MiB, so it is "
            f"not a header line of column names; is this a {kind} file with one record a line?",
            path=path,
        )
    header = text[:end].removeprefix("\ufeff") + "\n"
    if "\x00" in header:
        raise _not_text(path, head, encoding)
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(header.encode("utf-8")),
            read_options=pa_csv.ReadOptions(use_threads=False),
            parse_options=_csv_parse_options(fmt),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot parse the header line: {exc}", path=path) from exc
    return list(table.column_names)


def _decode_head(path: Path, head: bytes, encoding: str, whole: bool) -> str:
    """``head`` decoded; when a later byte does not decode, the text before it, if it holds
    the whole first record (that byte is then the table reader's to report, by row)."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=whole)
    except UnicodeDecodeError as exc:
        before = codecs.getincrementaldecoder(encoding)().decode(head[: exc.start])
        if _record_end(before) is None:
            raise _not_text(path, head, encoding, exc) from exc
        return before


def _record_end(text: str) -> int | None:
    """Where the first record of CSV ``text`` ends (its first line end outside quotes)."""
    quoted = False
    for match in re.finditer(r'["\r\n]', text):
        if match.group() == '"':
            quoted = not quoted
        elif not quoted:
            return match.start()
    return None


def _not_text(
    path: Path, head: bytes, encoding: str, exc: UnicodeDecodeError | None = None
) -> DataError:
    """Say what a file that does not decode as text is: UTF-16, binary, or another encoding."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return DataError(
            f"cannot decode as {encoding}: the file starts with a UTF-16 byte-order mark; "
            "pass --encoding utf-16",
            path=path,
        )
    if b"\x00" in head[:4096]:
        return DataError(
            f"cannot decode as {encoding}: the file holds NUL bytes, so it is binary or UTF-16 "
            "text, not a CSV/TSV file in this encoding; for UTF-16 pass --encoding utf-16",
            path=path,
        )
    assert exc is not None  # NUL bytes are the only undecodable header that decodes
    return _decode_error(path, encoding, exc)


def _csv_read_options() -> pa_csv.ReadOptions:
    return pa_csv.ReadOptions(block_size=1 << 24)


def _csv_parse_options(fmt: str, **kwargs: Any) -> pa_csv.ParseOptions:
    return pa_csv.ParseOptions(
        delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True, **kwargs
    )


def _read_csv_table(
    path: Path, fmt: str, compression: str | None, encoding: str, strings: list[str]
) -> pa.Table:
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in strings}, strings_can_be_null=False
    )
    with _utf8_source(path, compression, encoding) as (source, _):
        try:
            return pa_csv.read_csv(
                source,
                read_options=_csv_read_options(),
                parse_options=_csv_parse_options(fmt),
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            if "invalid UTF8" in str(exc):
                # Read the offending columns as bytes to find the first row that is not UTF-8.
                binary = {name: pa.binary() for name in strings}
                table = pa_csv.read_csv(
                    source,
                    read_options=_csv_read_options(),
                    parse_options=_csv_parse_options(fmt),
                    convert_options=pa_csv.ConvertOptions(column_types=binary),
                )
                _raise_first_undecodable(path, table, strings)
            raise _csv_error(path, source, fmt, exc) from exc


def _csv_error(path: Path, source: str, fmt: str, exc: pa.ArrowInvalid) -> DataError:
    """Turn a pyarrow parse error into a DataError naming the record: the serial reader's
    message names it ("Row #3: ..."), so a threaded read's error is re-read serially."""
    message = str(exc)
    if "Empty CSV file or block" in message:  # the header is the whole file, with no line end
        return DataError("no data rows (the file has only a header)", path=path)
    if "Empty CSV file" in message:
        return DataError("file is empty", path=path)
    match = _ROW_ERROR.search(message)
    if match is None:
        try:
            pa_csv.read_csv(
                source,
                read_options=pa_csv.ReadOptions(use_threads=False),
                parse_options=_csv_parse_options(fmt),
            )
        except pa.ArrowInvalid as serial:
            match = _ROW_ERROR.search(str(serial))
    if match is not None:
        line, expected, found, text = match.groups()
        return DataError(
            f"line {line}: expected {expected} fields, found {found} ({text[:60]!r}); "
            "check the quoting and the delimiter",
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


def _decode_error(path: Path, encoding: str, exc: UnicodeDecodeError, offset: int = 0) -> DataError:
    return DataError(
        f"cannot decode as {encoding} ({exc.reason} at byte {offset + exc.start}); pass "
        "--encoding with the file's encoding (e.g. --encoding latin-1) or re-save it as UTF-8",
        path=path,
    )


def _read_json_table(
    path: Path, compression: str | None, encoding: str, *, block_only: bool = False
) -> pa.Table:
    try:
        if block_only:
            data = _read_head(path, compression, 1 << 20)
            if codecs.lookup(encoding).name != "utf-8":  # UTF-8 is checked by _check_utf8
                data = codecs.getincrementaldecoder(encoding)().decode(data).encode("utf-8")
            data = data[: data.rfind(b"\n") + 1] or data
            return pa_json.read_json(pa.BufferReader(data.removeprefix(codecs.BOM_UTF8)))
        with (
            _utf8_source(path, compression, encoding) as (source, source_compression),
            pa.input_stream(source, compression=source_compression) as stream,
        ):
            return pa_json.read_json(stream)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _json_error(path, compression, encoding, exc) from exc


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


def _parquet_schema(path: Path, compression: str | None) -> pa.Schema:
    with _reading(path, compression):
        try:
            return _parquet().read_schema(_parquet_source(path, compression))
        except pa.ArrowInvalid as exc:
            raise DataError(f"cannot read as Parquet ({exc})", path=path) from exc


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
