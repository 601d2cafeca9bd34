from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modelcycle.data import Dataset
from modelcycle.exceptions import ConfigError, SchemaError
from modelcycle.features import (
    ENGINEERED_FEATURES,
    EngineeredFeaturizer,
    add_engineered_features,
    engineered_features,
)
from modelcycle.models import load_model, make_model, save_model

TEXTS = [
    "I don't like it!!! See www.example.com in 2024 😀",
    "do n't go , NOT good ?",
    None,
    "ABC def",
]


def features_of(name: str) -> list[float]:
    frame = pl.DataFrame({"t": TEXTS}, schema={"t": pl.String})
    return frame.select(engineered_features(pl.col("t"), [name])).to_series().to_list()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("length", [48, 22, 0, 7]),
        ("words", [11, 6, 0, 2]),
        ("exclamations", [3, 0, 0, 0]),
        ("questions", [0, 1, 0, 0]),
        ("digits", [4, 0, 0, 0]),
        ("urls", [1, 0, 0, 0]),
        ("emoji", [1, 0, 0, 0]),
        ("negations", [1, 2, 0, 0]),
    ],
)
def test_count_features(name: str, expected: list[int]) -> None:
    assert features_of(name) == expected


def test_ratio_features() -> None:
    assert features_of("upper_share") == pytest.approx([2 / 29, 3 / 13, 0.0, 0.5])
    assert features_of("mean_word_length")[3] == pytest.approx(3.0)
    assert features_of("mean_word_length")[2] == 0.0


def test_every_feature_is_documented_and_computed() -> None:
    frame = pl.DataFrame({"t": TEXTS}, schema={"t": pl.String})
    values = frame.select(engineered_features(pl.col("t")))
    assert values.columns == list(ENGINEERED_FEATURES)
    assert all(feature.description for feature in ENGINEERED_FEATURES.values())


def test_unknown_feature_lists_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown feature 'size'; valid features are: length, words"
    ):
        engineered_features(pl.col("t"), ["size"])


def test_add_engineered_features_refuses_to_overwrite_a_column() -> None:
    data = Dataset(pl.DataFrame({"text": ["a b"], "length": [1]}), "text", None, "d.csv")
    with pytest.raises(SchemaError, match="column 'length' already exists; choose a prefix"):
        add_engineered_features(data, ["length"])
    frame, added = add_engineered_features(data, ["length", "words"], prefix="f_")
    assert added == ["f_length", "f_words"]
    assert frame.row(0) == ("a b", 1, 3, 2)


def test_engineered_featurizer_standardises_with_training_statistics() -> None:
    featurizer, matrix = EngineeredFeaturizer(names=("length", "exclamations")).fit_transform(
        ["a", "abc!", "abcde!!"]
    )
    assert matrix.mean(axis=0) == pytest.approx([0.0, 0.0])
    assert featurizer.mean == pytest.approx([4.0, 1.0])
    again = EngineeredFeaturizer.from_tensors(featurizer.names, featurizer.to_tensors())
    assert np.array_equal(again.transform(["xyz"]), featurizer.transform(["xyz"]))


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("logreg", {"min_df": 1}),
        ("svm", {"min_df": 1}),
        ("nb", {"min_df": 1}),
        ("mlp", {"min_df": 1, "epochs": 40, "batch_size": 4, "patience": None}),
        ("fasttext", {"epochs": 40, "batch_size": 4, "buckets": 100}),
    ],
)
def test_every_family_uses_engineered_features_and_saves_them(
    family: str, params: dict[str, object], tmp_path: Path
) -> None:
    # Only the case tells the classes apart: tokens are lower-cased, so the words are shared.
    texts = [f"{'FILM NUMBER' if i % 2 else 'film number'} {i}" for i in range(40)]
    labels = ["loud" if i % 2 else "calm" for i in range(40)]
    model = make_model(family, {**params, "features": ["upper_share"]}, seed=0).fit(texts, labels)
    assert model.predict(["FILM NUMBER 99", "film number 98"]).tolist() == ["loud", "calm"]
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    assert loaded.get_params()["features"] == ("upper_share",)
