"""Bad input files end in one line naming the file, never a traceback or an abort on exit."""

import codecs
import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.csv as pa_csv
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.data import _read as read_module
from modelcycle.data import iter_batches, load_dataset, read_columns, resolve_columns
from modelcycle.exceptions import ConfigError, DataError

UNKNOWN = (
    "error: unknown encoding {!r}; use a text encoding Python knows, e.g. utf-8, latin-1, "
    "cp1252 or utf-16\n"
)


def test_an_error_exit_never_aborts(tmp_path: Path) -> None:
    """The column names were read by a pyarrow streaming reader whose read-ahead, on an Arrow
    thread, needed the GIL while the interpreter shut down: exit 134 after the right error."""
    data = tmp_path / "nt.csv"
    data.write_text("label\na\nb\n", encoding="utf-8")
    for _ in range(20):
        done = subprocess.run(
            [sys.executable, "-m", "modelcycle", "eda", str(data), "-o", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "terminate called" not in done.stderr
        assert done.returncode == 1, done.stderr
        assert done.stderr == (
            f"error: {data}: no text column found; columns are: label; choose one with --text COL\n"
        )


def test_no_reader_transcodes_with_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow's own transcoding (ReadOptions.encoding) runs Python on its I/O thread, which
    aborts the process if it still reads ahead at exit; a non-UTF-8 file reaches it as UTF-8."""
    path = tmp_path / "d.csv"
    path.write_bytes("text,label\ncafé,a\nx,b,extra\ncrème,b\n".encode("latin-1"))
    encodings: list[str] = []

    def spy(real: Any) -> Any:
        def reader(*args: Any, read_options: pa_csv.ReadOptions, **kwargs: Any) -> Any:
            encodings.append(read_options.encoding)
            return real(*args, read_options=read_options, **kwargs)

        return reader

    monkeypatch.setattr(read_module.pa_csv, "read_csv", spy(pa_csv.read_csv))
    monkeypatch.setattr(read_module.pa_csv, "open_csv", spy(pa_csv.open_csv))
    skipped: list[tuple[int | None, str]] = []
    batches = iter_batches(
        path, encoding="latin-1", on_invalid_row=lambda line, why: skipped.append((line, why))
    )
    texts = [text for table in batches for text in table.column("text").to_pylist()]
    assert texts == ["café", "crème"]
    assert skipped == [(3, "expected 2 fields, found 3 ('x,b,extra')")]
    with pytest.raises(DataError, match=r"d\.csv: line 3: expected 2 fields, found 3"):
        load_dataset(path, encoding="latin-1")
    assert len(encodings) >= 3
    assert set(encodings) == {"utf8"}


@pytest.mark.parametrize("encoding", ["bogus", "hex"])
def test_unknown_encoding_is_a_config_error(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^unknown encoding '{encoding}'; use a text encoding"):
        load_dataset(path, encoding=encoding)


def test_unknown_encoding_on_the_command_line(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path, model: Path
) -> None:
    for command in (
        ["eda", str(reviews_csv), "-o", str(tmp_path / "eda")],
        ["train", str(reviews_csv), "-o", str(tmp_path / "m2")],
        ["predict", str(model), str(reviews_csv), "-o", str(tmp_path / "p.csv")],
    ):
        result = runner.invoke(app, [*command, "--encoding", "bogus"])
        assert (result.exit_code, result.stderr) == (1, UNKNOWN.format("bogus")), command


def _clean(runner: CliRunner, data: Path) -> Any:
    return runner.invoke(app, ["clean", str(data), "-o", str(data.parent / "out.csv")])


def test_list_text_column_in_parquet(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "list.parquet"
    pl.DataFrame({"text": [["a", "b"], ["c"]], "label": ["x", "y"]}).write_parquet(path)
    expected = (
        f"{path}, column 'text': holds large_list<element: large_string> values, expected text"
    )
    with pytest.raises(DataError, match=f"^{expected}$".replace(".", r"\.")):
        resolve_columns(path)
    result = _clean(runner, path)
    assert (result.exit_code, result.stderr) == (1, f"error: {expected}\n")


def test_struct_text_column_in_jsonl(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": {"a": 1}, "label": "x"}\n{"text": {"a": 2}, "label": "y"}\n')
    result = _clean(runner, path)
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: {path}, column 'text': holds struct<a: int64> values, expected text\n",
    )


def test_utf16_csv_says_so_in_one_line(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes("text,label\nhello,pos\nbye,neg\n".encode("utf-16"))
    for command in ("eda", "clean"):
        result = runner.invoke(app, [command, str(path), "-o", str(tmp_path / "out.csv")])
        assert (result.exit_code, result.stderr) == (
            1,
            f"error: {path}: cannot decode as utf-8: the file starts with a UTF-16 byte-order "
            "mark; pass --encoding utf-16\n",
        )
    assert load_dataset(path, encoding="utf-16").texts == ["hello", "bye"]


def test_binary_csv_says_so_in_one_line(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(bytes(range(256)) * 8)
    result = runner.invoke(app, ["split", str(path), "-o", str(tmp_path / "s")])
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: {path}: cannot decode as utf-8: the file holds NUL bytes, so it is binary or "
        "UTF-16 text, not a CSV/TSV file in this encoding; for UTF-16 pass --encoding utf-16\n",
    )


def test_bad_row_with_undecodable_bytes_is_one_line(tmp_path: Path, runner: CliRunner) -> None:
    """The row finder used an invalid_row_handler; pyarrow decodes the row's text before
    calling it and printed 'Exception ignored ... UnicodeDecodeError' when it was not UTF-8."""
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\nok,a\n\xbb\xff,b,c\n")
    result = runner.invoke(app, ["eda", str(path), "-o", str(tmp_path / "eda")])
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: {path}: line 3: expected 2 fields, found 3 ('\ufffd\ufffd,b,c'); "
        "check the quoting and the delimiter\n",
    )


def test_undecodable_byte_names_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\nok,a\nx\x81y,b\n")
    with pytest.raises(
        DataError,
        match=r"d\.csv: cannot decode as cp1252 \(character maps to <undefined> at "
        r"byte 17\); pass --encoding",
    ):
        load_dataset(path, encoding="cp1252")


DAMAGED = r"^\S*d\.csv\.gz: cannot decompress \(.*\); the gzip file is damaged or cut short$"


@pytest.mark.parametrize("size", [1000, 1_000_000])
def test_truncated_gzip_names_the_file(tmp_path: Path, size: int) -> None:
    """Cut inside the first MiB (read by Python) or after it (read by pyarrow)."""
    path = tmp_path / "d.csv.gz"
    rows = b"".join(b"text %d,label %d\n" % (i, i % 2) for i in range(size // 10))
    whole = gzip.compress(b"text,label\n" + rows)
    path.write_bytes(whole[: len(whole) * 9 // 10])
    with pytest.raises(DataError, match=DAMAGED):
        load_dataset(path)
    with pytest.raises(DataError, match=DAMAGED):
        list(iter_batches(path))


def test_long_first_line_is_not_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label" + b"x" * 2_000_000)
    with pytest.raises(
        DataError,
        match=r"d\.csv: the first line has no line end in its first 1 MiB, so it is not a "
        r"header line of column names; is this a CSV file with one record a line\?",
    ):
        read_columns(path)


def test_header_without_line_end_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"text,label")
    assert read_columns(path) == ["text", "label"]
    with pytest.raises(DataError, match=r"d\.csv: no data rows \(the file has only a header\)"):
        load_dataset(path)


def test_header_with_a_quoted_line_break(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_bytes(b'"te\nxt"\tlabel\n"a\nb"\tx\n')
    assert read_columns(path) == ["te\nxt", "label"]
    assert load_dataset(path, text="te\nxt").texts == ["a\nb"]


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"d\.parquet: cannot read as Parquet \(Parquet magic"):
        load_dataset(path)
