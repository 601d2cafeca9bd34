"""The runtime: an exported model directory run on ONNX Runtime, and a graph swapped for another."""

from pathlib import Path

import numpy as np
import pytest

from modelcycle.data import load_dataset
from modelcycle.export import export_model
from modelcycle.models import make_model
from modelcycle.runtime import OnnxClassifier

PROBE = ["a wonderful film", "awful, boring!", "", "never seen words zzq"]


def exported(tmp_path: Path, reviews_csv: Path, c: float) -> OnnxClassifier:
    data = load_dataset(reviews_csv)
    model = make_model("logreg", {"min_df": 1, "C": c}, seed=0).fit(data.texts, data.labels)
    export_model(model, tmp_path / f"C{c}")
    return OnnxClassifier.load(tmp_path / f"C{c}")


def test_with_graph_is_a_new_classifier_with_another_graph(
    tmp_path: Path, reviews_csv: Path
) -> None:
    strong, weak = (exported(tmp_path, reviews_csv, c) for c in (10.0, 0.01))
    assert strong.inputs(PROBE).keys() == weak.inputs(PROBE).keys()  # the same vocabulary
    before = strong.predict_proba(PROBE)
    swapped = strong.with_graph(weak.graph, threads=1)
    assert swapped is not strong
    assert swapped.graph == weak.graph
    np.testing.assert_allclose(swapped.predict_proba(PROBE), weak.predict_proba(PROBE))
    assert not np.allclose(swapped.predict_proba(PROBE), before)
    np.testing.assert_array_equal(strong.predict_proba(PROBE), before)  # left as it was
    assert strong.graph != weak.graph
    assert swapped.classes_.tolist() == strong.classes_.tolist()


def test_a_graph_onnx_runtime_cannot_load_is_refused(tmp_path: Path, reviews_csv: Path) -> None:
    with pytest.raises(ValueError, match="ONNX Runtime cannot load the graph"):
        exported(tmp_path, reviews_csv, 1.0).with_graph(b"not a graph")
