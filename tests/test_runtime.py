"""The runtime: an exported model directory run on ONNX Runtime, and a graph swapped for another."""

from pathlib import Path

import numpy as np
import pytest

from modelcycle.data import load_dataset
from modelcycle.export import export_model
from modelcycle.models import make_model
from modelcycle.runtime import OnnxClassifier, onnx_session

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


@pytest.mark.parametrize(("op", "threads"), [("ScatterND", 1), ("ScatterElements", 2)])
def test_a_graph_that_sums_with_scatternd_runs_on_one_thread(op: str, threads: int) -> None:
    """ONNX Runtime's ScatterND with reduction="add" loses entries under several threads
    when an index repeats; other graphs keep the threads asked for."""
    from onnx import TensorProto, helper

    data = helper.make_tensor_value_info("data", TensorProto.FLOAT, [4, 2])
    index = helper.make_tensor_value_info(
        "index", TensorProto.INT64, ["n", 1 if op == "ScatterND" else 2]
    )
    updates = helper.make_tensor_value_info("updates", TensorProto.FLOAT, ["n", 2])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [4, 2])
    node = helper.make_node(op, ["data", "index", "updates"], ["out"], reduction="add")
    graph = helper.make_graph([node], "g", [data, index, updates], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    session = onnx_session(model.SerializeToString(), threads=2)
    assert session.get_session_options().intra_op_num_threads == threads
    index_rows = np.zeros((3, 1 if op == "ScatterND" else 2), dtype=np.int64)  # one row, thrice
    summed = session.run(
        None,
        {
            "data": np.zeros((4, 2), np.float32),
            "index": index_rows,
            "updates": np.ones((3, 2), np.float32),
        },
    )[0]
    assert summed[0].tolist() == [3.0, 3.0]
