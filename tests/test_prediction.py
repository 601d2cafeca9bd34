from pathlib import Path

import polars as pl
import pytest

from modelcycle.data import Dataset, load_dataset
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.prediction import predict, predict_dataset


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
