import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from modelcycle.data import Dataset, load_dataset
from modelcycle.exceptions import DataError, SchemaError
from modelcycle.models import load_model
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.postprocess import Postprocess, Threshold
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
            pl.col("^score_.*$").cast(pl.Float64), pl.col("^changed_by_threshold$") == "true"
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
        f"wrote 2 predictions to {out}; skipped 1 bad row (listed above); "
    )
    assert result.stdout.rstrip().endswith("rows/s on 2 threads")
    assert pl.read_parquet(out)["key"].to_list() == ["k1", "k3"]


SCORES = {"close call": [0.3, 0.7], "sure": [0.05, 0.95], "no": [0.8, 0.2]}
"""Fixed probabilities (negative, positive); a threshold of 0.9 on 'positive' turns the first
one's answer from the top score's 'positive' into 'negative'."""


@pytest.fixture
def thresholded(model: TfidfLogisticRegression) -> TfidfLogisticRegression:
    model.predict_proba = lambda texts: np.array([SCORES[t] for t in texts])  # type: ignore[method-assign]
    model.postprocess_ = Postprocess(threshold=Threshold("positive", 0.9, "f1"))
    return model


@pytest.mark.parametrize("name", ["p.csv", "p.jsonl", "p.parquet"])
def test_predict_file_marks_the_rows_where_the_threshold_beat_the_top_score(
    tmp_path: Path, thresholded: TfidfLogisticRegression, name: str
) -> None:
    data = tmp_path / "in.csv"
    pl.DataFrame({"text": list(SCORES)}).write_csv(data)
    report = predict_file(thresholded, data, tmp_path / name, threads=2, chunk_rows=2)
    frame = read(tmp_path / name)
    assert frame.columns == [
        "text",
        "predicted",
        "score_negative",
        "score_positive",
        "changed_by_threshold",
    ]
    assert frame["predicted"].to_list() == ["negative", "positive", "negative"]
    assert frame["changed_by_threshold"].to_list() == [True, False, False]
    assert report.changed_by_threshold == 1
    assert report.threshold == Threshold("positive", 0.9, "f1")


@pytest.mark.parametrize("how", ["raw", "temperature only"])
def test_predict_file_has_no_threshold_column_when_no_threshold_applies(
    tmp_path: Path, thresholded: TfidfLogisticRegression, how: str
) -> None:
    if how == "temperature only":
        thresholded.postprocess_ = Postprocess(temperature=2.0)
    data = tmp_path / "in.csv"
    pl.DataFrame({"text": list(SCORES)}).write_csv(data)
    report = predict_file(thresholded, data, tmp_path / "p.csv", raw=how == "raw")
    frame = read(tmp_path / "p.csv")
    assert frame.columns == ["text", "predicted", "score_negative", "score_positive"]
    assert frame["predicted"].to_list() == ["positive", "positive", "negative"]
    assert (report.threshold, report.changed_by_threshold) == (None, 0)


def test_records_and_predict_dataset_say_where_the_threshold_chose(
    tmp_path: Path, thresholded: TfidfLogisticRegression
) -> None:
    answer = predict(thresholded, list(SCORES))
    assert answer.threshold == Threshold("positive", 0.9, "f1")
    assert answer.records()[0] == {
        "label": "negative",
        "scores": {"negative": 0.3, "positive": 0.7},
        "changed_by_threshold": True,
    }
    assert [r["changed_by_threshold"] for r in answer.records()] == [True, False, False]
    assert "changed_by_threshold" not in predict(thresholded, ["sure"], raw=True).records()[0]
    out = predict_dataset(thresholded, Dataset.from_records(list(SCORES)), tmp_path / "p.jsonl")
    assert pl.read_ndjson(out)["changed_by_threshold"].to_list() == [True, False, False]


@pytest.mark.parametrize("alias", ["same", "absolute", "dotted", "symlink", "hard link"])
def test_predict_file_refuses_to_overwrite_its_input(
    tmp_path: Path, model: TfidfLogisticRegression, monkeypatch: pytest.MonkeyPatch, alias: str
) -> None:
    monkeypatch.chdir(tmp_path)
    data = Path("in.csv")
    data.write_text("text,note\ngreat,keep me\n", encoding="utf-8")
    out = {
        "same": Path("in.csv"),
        "absolute": tmp_path / "in.csv",
        "dotted": Path("sub/../in.csv"),
        "symlink": Path("link.csv"),
        "hard link": Path("hard.csv"),
    }[alias]
    Path("sub").mkdir()
    if alias == "symlink":
        out.symlink_to("in.csv")
    if alias == "hard link":
        os.link(data, out)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(
        DataError,
        match=rf"^in\.csv: the output {out} would overwrite the input; choose another -o$",
    ):
        predict_file(model, data, out)
    assert data.read_text(encoding="utf-8") == "text,note\ngreat,keep me\n"
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("name", ["in.csv", "in.parquet"])
def test_predict_file_without_data_rows_is_an_error_and_writes_nothing(
    tmp_path: Path, model: TfidfLogisticRegression, name: str
) -> None:
    data = tmp_path / name
    empty = pl.DataFrame({"id": [], "text": []}, schema={"id": pl.String, "text": pl.String})
    empty.write_csv(data) if name.endswith(".csv") else empty.write_parquet(data)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(DataError, match=r"in\.\w+: no data rows \(the file has only a header\)$"):
        predict_file(model, data, tmp_path / "out.csv")
    assert sorted(tmp_path.iterdir()) == before


def test_predict_file_with_only_bad_rows_is_an_error_and_writes_nothing(
    tmp_path: Path, model: TfidfLogisticRegression
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("id,text\n1,\n2,   \n", encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    bad: list[BadRow] = []
    with pytest.raises(
        DataError, match=r"in\.csv: nothing to write: every row is bad \(each one is reported\)$"
    ):
        predict_file(model, data, tmp_path / "out.csv", on_bad_row=bad.append)
    assert [str(b) for b in bad] == ["row 1: no text", "row 2: no text"]
    assert sorted(tmp_path.iterdir()) == before
