import gzip
from pathlib import Path

import polars as pl
import pytest

from modelcycle.data import Dataset, load_dataset, write_table
from modelcycle.exceptions import DataError, SchemaError

ROWS = {"text": ["good film", "bad film", "great"], "label": ["pos", "neg", "pos"]}


@pytest.mark.parametrize(
    "name",
    [
        "d.csv",
        "d.tsv",
        "d.parquet",
        "d.jsonl",
        "d.csv.gz",
        "d.tsv.gz",
        "d.jsonl.gz",
        "d.parquet.gz",
        "d.csv.bz2",
    ],
)
def test_every_format_round_trips(tmp_path: Path, name: str) -> None:
    path = write_table(pl.DataFrame(ROWS), tmp_path / name)
    data = load_dataset(path)
    assert (data.text, data.label) == ("text", "label")
    assert data.texts == ROWS["text"]
    assert data.labels.tolist() == ROWS["label"]
    assert data.label_counts() == {"pos": 2, "neg": 1}


def test_csv_with_bom_quotes_embedded_newlines_and_commas(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'\xef\xbb\xbftext,label\n"hello, ""world""\nsecond line",pos\n"plain",neg\n')
    data = load_dataset(path)
    assert data.texts == ['hello, "world"\nsecond line', "plain"]
    assert data.frame.columns == ["text", "label"]


def test_latin1_needs_and_accepts_encoding(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes("text,label\nok,pos\ncafé crème,neg\n".encode("latin-1"))
    with pytest.raises(
        DataError,
        match=r"d\.csv, row 2, column 'text': not valid UTF-8 \(byte 0xe9\); pass --encoding",
    ):
        load_dataset(path)
    assert load_dataset(path, encoding="latin-1").texts == ["ok", "café crème"]


def test_jsonl_in_latin1(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        '{"text": "café", "label": "a"}\n{"text": "x", "label": "b"}\n'.encode("latin-1")
    )
    with pytest.raises(DataError, match=r"row 1, column .text.: not valid UTF-8 \(byte 0xe9\)"):
        load_dataset(path)
    assert load_dataset(path, encoding="latin-1").texts == ["café", "x"]


def test_columns_are_detected_from_usual_names(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    assert (data.text, data.label) == ("review_text", "sentiment")
    assert "stars" in data.frame.columns


def test_numeric_labels_and_texts_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\n12,1\n34,0\n", encoding="utf-8")
    data = load_dataset(path)
    assert data.texts == ["12", "34"]
    assert data.labels.tolist() == ["1", "0"]


def test_labels_are_stripped_and_dropped_on_request(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\na, pos \nb,plot\nc,neg\n", encoding="utf-8")
    data = load_dataset(path, drop_labels=["plot"])
    assert data.labels.tolist() == ["pos", "neg"]
    assert data.texts == ["a", "c"]


def test_one_column_cannot_be_both_text_and_label(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n", encoding="utf-8")
    with pytest.raises(
        SchemaError, match=r"d\.csv: column 'text' is chosen as both the text and the label"
    ):
        load_dataset(path, text="text", label="text")


def test_label_is_optional_for_prediction(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text\nhello\n", encoding="utf-8")
    data = load_dataset(path, require_label=False)
    assert data.label is None
    with pytest.raises(SchemaError, match="no label column"):
        _ = data.labels


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (b"", {}, r"d\.csv: file is empty"),
        (b"text,label\n", {}, r"d\.csv: no data rows \(the file has only a header\)"),
        (
            b"body,label\nx,y\n",
            {},
            r"d\.csv: no text column found; columns are: body, label; choose one with --text COL",
        ),
        (
            b"text,label\nx,y\n",
            {"label": "stars"},
            r"d\.csv: label column 'stars' not found; columns are: text, label",
        ),
        (
            b"text,review,label\nx,y,z\n",
            {},
            r"several columns could hold the text \('text', 'review'\); choose one with --text COL",
        ),
        (b"text,label\n,a\n  ,b\n", {}, r"d\.csv, column 'text': every text is empty"),
        (
            b"text,label\nx,a\ny,\nz, \n",
            {},
            r"d\.csv, row 2, column 'label': missing label \(2 rows without one\)",
        ),
        (b"text,label\nx,a\ny,b,c\n", {}, r"d\.csv: line 3: expected 2 fields, found 3"),
    ],
)
def test_bad_input_names_file_row_and_column(
    tmp_path: Path, content: bytes, kwargs: dict[str, str], message: str
) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_dataset(path, **kwargs)


def test_missing_file_unknown_extension_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "d.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'; use \.csv, \.tsv"):
        load_dataset(tmp_path / "d.xlsx")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(tmp_path / "dir.csv")


def test_empty_gzip_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match="file is empty"):
        load_dataset(path)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (b'{"text": "a", "label": "x"}\nnot json\n', r"line 2: not valid JSON"),
        (b'{"text": "a", "label": "x"}\n[1, 2]\n', r"line 2: expected a JSON object per line"),
        (
            b'{"text": "a", "label": "x"}\n{"text": 5, "label": "y"}\n',
            r"line 2: 'text' is int here but str on earlier lines",
        ),
    ],
)
def test_bad_jsonl_names_the_line(tmp_path: Path, lines: bytes, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(lines)
    with pytest.raises(DataError, match=message):
        load_dataset(path)


def test_dataset_is_never_mutated_by_take(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    part = data.take([3, 1])
    assert part.texts == [data.texts[3], data.texts[1]]
    assert len(data) == 24


def test_require_classes(tmp_path: Path) -> None:
    data = Dataset.from_records(["a", "b"], ["x", "x"], source="d.csv")
    with pytest.raises(
        DataError,
        match=r"d\.csv, column 'label': training needs at least 2 classes, found 1 \('x'\)",
    ):
        data.require_classes(2)
