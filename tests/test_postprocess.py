"""Temperature, then threshold: the one function every predictor applies."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelcycle.postprocess import Postprocess, Threshold, apply_postprocess, scale_temperature

CLASSES = ["negative", "positive"]


def test_temperature_known_case() -> None:
    # logit log(0.8 / 0.2) = log 4; halved it is log 2, whose sigmoid is 2/3.
    scaled = scale_temperature(np.array([[0.2, 0.8]]), 2.0)
    np.testing.assert_allclose(scaled, [[1 / 3, 2 / 3]])
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_array_equal(scale_temperature(proba, 1.0), proba)


@given(
    st.lists(st.floats(0.001, 0.999), min_size=1, max_size=20),
    st.floats(0.05, 20.0),
)
def test_temperature_keeps_the_order_and_sums_to_one(first: list[float], t: float) -> None:
    proba = np.column_stack([first, 1 - np.asarray(first)])
    scaled = scale_temperature(proba, t)
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    strict = np.abs(proba[:, 0] - proba[:, 1]) > 1e-9
    np.testing.assert_array_equal(scaled[strict].argmax(axis=1), proba[strict].argmax(axis=1))


def test_threshold_decides_the_label() -> None:
    proba = np.array([[0.7, 0.3], [0.5, 0.5], [0.65, 0.35], [0.1, 0.9]])
    post = Postprocess(threshold=Threshold("positive", 0.35, "f1"))
    labels, scores = post.apply(proba, CLASSES)
    assert labels.tolist() == ["negative", "positive", "positive", "positive"]
    np.testing.assert_array_equal(scores, proba)
    on_negative = Postprocess(threshold=Threshold("negative", 0.9))
    assert on_negative.apply(proba, CLASSES)[0].tolist() == ["positive"] * 4


def test_json_round_trip_and_the_function_form() -> None:
    post = Postprocess(1.5, Threshold("positive", 0.4, "f1"), {"data": "val.csv", "rows": 10})
    data = post.to_json()
    assert data == {
        "temperature": 1.5,
        "threshold": {"label": "positive", "value": 0.4, "metric": "f1"},
        "fitted_on": {"data": "val.csv", "rows": 10},
    }
    assert Postprocess.from_json(data, CLASSES) == post
    proba = np.array([[0.55, 0.45], [0.9, 0.1]])
    labels, scores = apply_postprocess(proba, CLASSES, data)
    expected_labels, expected_scores = post.apply(proba, CLASSES)
    assert labels.tolist() == expected_labels.tolist() == ["positive", "negative"]
    np.testing.assert_array_equal(scores, expected_scores)
    assert Postprocess.from_json(None, CLASSES).is_identity
    assert apply_postprocess(proba, CLASSES, None)[0].tolist() == ["negative", "negative"]


@pytest.mark.parametrize(
    ("spec", "classes", "message"),
    [
        ([], CLASSES, "postprocess must be an object"),
        ({"temperature": 0}, CLASSES, "temperature must be a positive number, got 0"),
        ({"temperature": "2"}, CLASSES, "temperature must be a positive number"),
        ({"temperature": True}, CLASSES, "temperature must be a positive number"),
        ({"temp": 2}, CLASSES, "unknown key 'temp' in postprocess"),
        ({"threshold": {"label": "maybe", "value": 0.5}}, CLASSES, "'maybe' is not one of"),
        ({"threshold": {"label": "positive", "value": 1.5}}, CLASSES, r"in \[0, 1\], got 1.5"),
        ({"threshold": {"label": "positive", "value": 0.5, "x": 1}}, CLASSES, "unknown key 'x'"),
        ({"threshold": {"label": "a", "value": 0.5}}, ["a", "b", "c"], "exactly 2 classes, got 3"),
    ],
)
def test_invalid_specs_say_what_is_wrong(spec: object, classes: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Postprocess.from_json(spec, classes)


def test_imports_nothing_heavier_than_numpy() -> None:
    code = (
        "import sys, modelcycle.postprocess\n"
        "heavy = {'sklearn', 'scipy', 'polars', 'pyarrow', 'torch', 'matplotlib', 'typer'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
