from pathlib import Path
from typing import Any

import polars as pl
import pytest

from modelcycle.data import Dataset, load_dataset
from modelcycle.exceptions import SchemaError
from modelcycle.models import load_model
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.prediction import BadRow, predict, predict_dataset, predict_file


@pytest.fixture
def model(reviews_csv: Path) -> TfidfLogisticRegression:
    data = load_dataset(reviews_csv)
    return TfidfLogisticRegression(min_df=1).fit(data.texts, data.labels)


def test_records_have_label_and_scores(model: TfidfLogisticRegression) -> None:
    records = predict(model, ["a wonderful film", "an awful film"]).records()
    assert [r["label"] for r in records] == ["positive", "negative"]
    assert set(records[0]["scores"]) == {"negative", "positive"}
    assert records[0]["scores"]["positive"] > 0.5
    assert sum(records[1]["scores"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["p.csv", "p.jsonl", "p.parquet"])
def test_predict_dataset_writes_every_row(
    tmp_path: Path, model: TfidfLogisticRegression, name: str
) -> None:
    data = Dataset.from_records(["loved it, wonderful", "hated it, awful", "wonderful"])
    out = predict_dataset(model, data, tmp_path / name)
    frame = (
        pl.read_csv(out)
        if name.endswith(".csv")
        else (pl.read_ndjson(out) if name.endswith(".jsonl") else pl.read_parquet(out))
    )
    assert frame.columns == ["text", "predicted", "score_negative", "score_positive"]
    assert frame["predicted"].to_list() == ["positive", "negative", "positive"]


def test_predict_dataset_keeps_the_true_label(
    tmp_path: Path, model: TfidfLogisticRegression, reviews_csv: Path
) -> None:
    out = predict_dataset(model, load_dataset(reviews_csv), tmp_path / "p.csv")
    frame = pl.read_csv(out)
    assert (frame["label"] == frame["predicted"]).all()
    assert frame.height == 24


def read(path: Path) -> pl.DataFrame:
    if path.name.endswith((".csv", ".csv.gz")):
        return pl.read_csv(path, infer_schema=False).with_columns(
            pl.col("^score_.*$").cast(pl.Float64)
        )
    return pl.read_ndjson(path) if path.suffix == ".jsonl" else pl.read_parquet(path)


@pytest.fixture
def model_dir(tmp_path: Path, model: TfidfLogisticRegression) -> Path:
    from modelcycle.models import save_model

    save_model(model, tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.parametrize("name", ["p.csv", "p.jsonl", "p.parquet", "p.csv.gz"])
def test_predict_file_writes_id_text_label_prediction_and_scores(
    tmp_path: Path, model_dir: Path, reviews: pl.DataFrame, name: str
) -> None:
    data = tmp_path / "in.csv"
    reviews.with_row_index("id", offset=100).write_csv(data)
    report = predict_file(model_dir, data, tmp_path / name, id_column="id", chunk_rows=5)
    frame = read(tmp_path / name)
    assert frame.columns == [
        "id",
        "review_text",
        "sentiment",
        "predicted",
        "score_negative",
        "score_positive",
    ]
    assert frame["id"].cast(pl.Int64).to_list() == list(range(100, 124))
    expected = predict(load_model(model_dir), reviews["review_text"].to_list())
    assert frame["predicted"].to_list() == expected.labels.tolist()
    assert frame["score_positive"].to_numpy() == pytest.approx(expected.scores[:, 1])
    assert (report.rows, report.predicted, report.bad_rows) == (24, 24, 0)
    assert report.out == tmp_path / name


def test_predict_file_streams_in_chunks_on_threads_in_order(
    tmp_path: Path, model: TfidfLogisticRegression
) -> None:
    texts = [f"{w} film {i}" for i, w in enumerate(["wonderful", "awful", "boring"] * 400)]
    data = tmp_path / "big.jsonl"
    pl.DataFrame({"text": texts, "id": [f"r{i}" for i in range(len(texts))]}).write_ndjson(data)
    one = predict_file(
        model, data, tmp_path / "one.parquet", threads=1, chunk_rows=1000, id_column="id"
    )
    many = predict_file(
        model, data, tmp_path / "many.parquet", threads=3, chunk_rows=37, id_column="id"
    )
    assert (one.threads, many.threads) == (1, 3)
    first = pl.read_parquet(one.out)
    assert pl.read_parquet(many.out).equals(first)
    assert first["id"].to_list() == [f"r{i}" for i in range(len(texts))]
    assert first["predicted"].to_list()[:3] == ["positive", "negative", "negative"]


def test_predict_file_keeps_going_past_bad_rows(
    tmp_path: Path, model: TfidfLogisticRegression
) -> None:
    data = tmp_path / "messy.csv"
    data.write_text(
        "id,text\n"
        "1,a wonderful film\n"
        "2,\n"  # no text
        '3,"awful, boring",extra\n'  # three fields where the header has two
        "4,   \n"  # blank
        '5,"a great\nfilm"\n'
        "6,BREAK\n"  # the model fails on this one
        "7,terrible\n",
        encoding="utf-8",
    )
    real = model.predict_proba

    def fragile(texts: list[str]) -> Any:
        if "BREAK" in texts:
            raise ValueError("cannot featurize BREAK")
        return real(texts)

    model.predict_proba = fragile  # type: ignore[method-assign]
    bad: list[BadRow] = []
    report = predict_file(model, data, tmp_path / "out.csv", id_column="id", on_bad_row=bad.append)
    assert [str(b) for b in bad] == [
        "line 4: expected 2 fields, found 3 ('3,\"awful, boring\",extra')",
        "row 2: no text",
        "row 3: no text",
        "row 5: the model could not predict it (cannot featurize BREAK)",
    ]
    frame = pl.read_csv(tmp_path / "out.csv")
    assert frame["id"].to_list() == [1, 5, 7]
    assert frame["predicted"].to_list() == ["positive", "positive", "negative"]
    assert (report.rows, report.predicted, report.bad_rows) == (6, 3, 4)


def test_predict_file_null_texts_in_jsonl_are_bad_rows(
    tmp_path: Path, model: TfidfLogisticRegression
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "great"}\n{"text": null}\n{"text": "awful"}\n', encoding="utf-8")
    bad: list[BadRow] = []
    report = predict_file(model, data, tmp_path / "out.jsonl", on_bad_row=bad.append)
    assert [str(b) for b in bad] == ["row 2: no text"]
    assert pl.read_ndjson(tmp_path / "out.jsonl")["text"].to_list() == ["great", "awful"]
    assert report.predicted == 2


def test_predict_file_unknown_id_column_lists_the_columns(
    tmp_path: Path, model: TfidfLogisticRegression, reviews_csv: Path
) -> None:
    with pytest.raises(SchemaError, match="id column 'key' not found; columns are: review_text"):
        predict_file(model, reviews_csv, tmp_path / "out.csv", id_column="key")
    assert not (tmp_path / "out.csv").exists()


def test_predict_file_shows_progress_on_stderr(
    tmp_path: Path, model: TfidfLogisticRegression, reviews: pl.DataFrame, capsys: Any
) -> None:
    data = tmp_path / "in.parquet"
    reviews.write_parquet(data)
    predict_file(model, data, tmp_path / "out.csv", progress=True, chunk_rows=10)
    err = capsys.readouterr().err
    assert "predict" in err
    assert "24/24" in err


def test_cli_predict_reports_bad_rows_and_writes_the_rest(tmp_path: Path, model_dir: Path) -> None:
    from typer.testing import CliRunner

    from modelcycle.cli import app

    data = tmp_path / "in.csv"
    data.write_text("key,review\nk1,a wonderful film\nk2,\nk3,awful\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        app, ["predict", str(model_dir), str(data), "-o", str(out), "--id", "key", "--threads", "2"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"{data}, row 2: no text\n"
    assert result.stdout.startswith(
        f"wrote 2 predictions to {out}; skipped 1 bad rows (listed above); "
    )
    assert result.stdout.rstrip().endswith("rows/s on 2 threads")
    assert pl.read_parquet(out)["key"].to_list() == ["k1", "k3"]
