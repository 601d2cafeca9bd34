"""Labels keep their type through fit, predict, save and load; bad labels, inputs and class
weights are refused with a message that says what was received."""

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from modelcycle.data import load_dataset
from modelcycle.exceptions import ConfigError, DataError
from modelcycle.models import load_model, make_model, save_model
from modelcycle.models.neural import NeuralClassifier
from modelcycle.prediction import predict, predict_dataset
from tests.conftest import NEGATIVE, POSITIVE

TEXTS = [t for pair in zip(POSITIVE, NEGATIVE, strict=True) for t in pair]
PROBE = ["wonderful brilliant great", "awful terrible boring"]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (np.array([1, 0] * 12), [1, 0]),
        (np.array([True, False] * 12), [True, False]),
        (np.array([1.0, 0.0] * 12), [1.0, 0.0]),
        (np.array(["pos", "neg"] * 12), ["pos", "neg"]),
        (np.array(["pos", "neg"] * 12, dtype=object), ["pos", "neg"]),
    ],
    ids=["int", "bool", "float", "str", "object"],
)
def test_labels_keep_their_type_through_save_and_load(
    labels: np.ndarray, expected: list[Any], tmp_path: Path
) -> None:
    model = make_model("logreg", {"min_df": 1}).fit(TEXTS, labels)
    assert model.classes_.dtype == labels.dtype
    assert model.predict(TEXTS).tolist() == labels.tolist()
    assert model.predict(PROBE).tolist() == expected
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.classes_.dtype.kind == labels.dtype.kind.replace("O", "U")
    assert [type(label) for label in loaded.predict(PROBE).tolist()] == [type(expected[0])] * 2
    assert loaded.predict(PROBE).tolist() == expected


def test_integer_labels_in_predictions_and_their_file(tmp_path: Path) -> None:
    save_model(make_model("logreg", {"min_df": 1}).fit(TEXTS, [1, 0] * 12), tmp_path / "m")
    model = load_model(tmp_path / "m")
    assert predict(model, PROBE).records()[0]["label"] == "1"
    assert list(predict(model, PROBE).records()[1]["scores"]) == [0, 1]
    pl.DataFrame({"review_text": PROBE, "sentiment": [1, 0]}).write_csv(tmp_path / "d.csv")
    out = predict_dataset(model, load_dataset(tmp_path / "d.csv"), tmp_path / "p.csv")
    table = pl.read_csv(out)
    assert table.columns == ["text", "label", "predicted", "score_0", "score_1"]
    assert table.get_column("predicted").to_list() == [1, 0]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            np.zeros((24, 1), dtype=int),
            r"^y must be 1-D, one label per text, got an array of shape \(24, 1\); pass the "
            r"label column alone \(e\.g\. y\.ravel\(\) for a single column\)$",
        ),
        (
            np.zeros((24, 2), dtype=int),
            r"^y must be 1-D, one label per text, got an array of shape \(24, 2\)",
        ),
        ([0, 1] * 11, r"^got 24 texts but 22 labels$"),
        (
            ["pos", None] * 12,
            r"^y: text 2 \(counted from 1\) has no label; 12 labels are missing$",
        ),
        ([1.0, float("nan")] * 12, r"^y: text 2 \(counted from 1\) has no label"),
        (
            [0.5, 1.0] * 12,
            r"^y looks continuous \(e\.g\. 0\.5\); a classifier needs discrete labels",
        ),
        (
            np.array([1, "a"] * 12, dtype=object),
            r"^y mixes label types \(int, str\); give every label the same type",
        ),
    ],
    ids=["column", "two-columns", "length", "none", "nan", "continuous", "mixed"],
)
def test_bad_labels_are_refused(labels: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        make_model("logreg").fit(TEXTS, labels)


def test_bad_validation_labels_are_refused() -> None:
    model = make_model("mlp", {"min_df": 1, "epochs": 1})
    with pytest.raises(DataError, match=r"^val labels must be 1-D, .* shape \(2, 1\)"):
        model.fit(TEXTS, [1, 0] * 12, val=(PROBE, np.array([[1], [0]])))
    with pytest.raises(DataError, match=r"^got 2 val texts but 1 val labels$"):
        model.fit(TEXTS, [1, 0] * 12, val=(PROBE, [1]))


def test_a_table_of_texts_is_refused() -> None:
    """Each row used to become one text, its repr (``"['a' 'b']"``): a silent wrong answer."""
    table = np.array([TEXTS, TEXTS]).T
    with pytest.raises(
        DataError,
        match=r"^X must be a 1-D sequence of texts, got an array of shape \(24, 2\); pass the "
        r"text column alone$",
    ):
        make_model("logreg").fit(table, [1, 0] * 12)
    model = make_model("logreg", {"min_df": 1}).fit(np.array(TEXTS), [1, 0] * 12)
    with pytest.raises(DataError, match=r"shape \(2, 1\)"):
        model.predict(np.array([PROBE]).T)


UNBALANCED = (TEXTS[:18], ["pos", "neg"] * 6 + ["neg"] * 6)  # 6 pos, 12 neg
BALANCED_WEIGHTS = {"neg": 18 / (2 * 12), "pos": 18 / (2 * 6)}  # n / (classes * count)
FAMILIES: dict[str, dict[str, Any]] = {
    "logreg": {"min_df": 1},
    "svm": {"min_df": 1},
    "nb": {"min_df": 1},
    "fasttext": {"epochs": 5, "batch_size": 8, "buckets": 1000},
    "mlp": {"min_df": 1, "epochs": 3, "batch_size": 8},
}


@pytest.mark.parametrize("family", [*FAMILIES, "logreg-sgd"])
def test_class_weight_dict_is_the_weight_of_each_label(family: str) -> None:
    """A dict of the balanced weights trains the same model as "balanced"; unweighted differs."""
    name, _, optimizer = family.partition("-")
    params = {**FAMILIES[name], **({"optimizer": optimizer, "epochs": 3} if optimizer else {})}

    def proba(class_weight: Any) -> np.ndarray:
        model = make_model(name, {**params, "class_weight": class_weight}, seed=0)
        return model.fit(*UNBALANCED).predict_proba(TEXTS)

    balanced = proba("balanced")
    np.testing.assert_allclose(proba(BALANCED_WEIGHTS), balanced, rtol=1e-6, atol=1e-9)
    assert not np.allclose(proba(None), balanced)


def test_class_weight_keys_match_labels_as_written_in_json() -> None:
    labels = np.array([1, 0] * 6 + [0] * 6)
    keyed = make_model("logreg", {"min_df": 1, "class_weight": {"1": 2.0}}).fit(TEXTS[:18], labels)
    by_int = make_model("logreg", {"min_df": 1, "class_weight": {1: 2.0, 0: 1.0}})
    np.testing.assert_array_equal(
        keyed.predict_proba(TEXTS), by_int.fit(TEXTS[:18], labels).predict_proba(TEXTS)
    )


def test_class_weight_with_numpy_keys_and_values_saves(tmp_path: Path) -> None:
    labels = np.array([1, 0] * 12)
    weights = np.array([1.0, 2.0], dtype=np.float32)
    class_weight = dict(zip(np.unique(labels), weights, strict=True))
    model = make_model("logreg", {"min_df": 1, "class_weight": class_weight}).fit(TEXTS, labels)
    save_model(model, tmp_path / "m")  # was: "keys must be str, int, float, bool or None"
    loaded = load_model(tmp_path / "m")
    assert loaded.get_params()["class_weight"] == {"0": 1.0, "1": 2.0}
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        (
            {"neutral": 2.0},
            r"^class_weight names 'neutral', which is not a training label; "
            r"the labels are: 'neg', 'pos'$",
        ),
        ({"pos": 0.0}, r"^class_weight\['pos'\] must be a positive number, got 0\.0$"),
        ({"pos": float("inf")}, r"^class_weight\['pos'\] must be a positive number, got inf$"),
        ({"pos": "2"}, r"^class_weight\['pos'\] must be a number, got '2'$"),
        ({"pos": True}, r"^class_weight\['pos'\] must be a number, got True$"),
        ("even", r"'class_weight' parameter of TfidfLogisticRegression must be"),
    ],
)
def test_bad_class_weights_are_refused(class_weight: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_model("logreg", {"class_weight": class_weight}).fit(*UNBALANCED)


def test_gradient_families_check_class_weight_before_training() -> None:
    for family in ("fasttext", "mlp"):
        with pytest.raises(ConfigError, match="class_weight names 'x', which is not a training"):
            make_model(family, {"class_weight": {"x": 1.0}}).fit(*UNBALANCED)
    with pytest.raises(ConfigError, match="class_weight names 7, which is not a training label"):
        NeuralClassifier(class_weight={7: 2.0}).fit(np.eye(4), [0, 1, 0, 1])
