"""ONNX export: parity for every family, the predictor, the file formats, refusals."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelcycle.data import Dataset, load_dataset
from modelcycle.evaluation import evaluate
from modelcycle.exceptions import ArtifactError, ConfigError, ExportError
from modelcycle.export import export_model, parity_texts
from modelcycle.models import MODELS, TextClassifier, load_model, make_model, save_model
from modelcycle.prediction import predict
from modelcycle.runtime import OnnxClassifier

# Small data needs more passes than the defaults, which are set for real datasets.
TINY: dict[str, dict[str, Any]] = {
    "logreg": {"min_df": 1},
    "svm": {"min_df": 1},
    "nb": {"min_df": 1},
    "fasttext": {"epochs": 20, "batch_size": 4, "buckets": 1000},
    "mlp": {"min_df": 1, "epochs": 10, "batch_size": 4, "patience": None, "hidden": (16,)},
}
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{family: (family, params) for family, params in TINY.items()},
    "logreg+features": ("logreg", {"min_df": 1, "features": ("length", "negations")}),
    "nb+adam": ("nb", {"min_df": 1, "optimizer": "adam", "epochs": 5, "batch_size": 4}),
    "mlp+features": ("mlp", {**TINY["mlp"], "features": ("words",), "hidden": (8, 4)}),
    "fasttext+hidden+features": (
        "fasttext",
        {**TINY["fasttext"], "hidden": (6,), "features": ("length", "exclamations")},
    ),
}
PROBE = ["a wonderful film", "awful, boring!", "", "never seen words", "great great great"]


def fit(name: str, data: Dataset) -> TextClassifier:
    family, params = VARIANTS[name]
    return make_model(family, params, seed=0).fit(data.texts, data.labels)


def test_every_family_is_exported() -> None:
    # the transformer needs a backbone: tests/models/test_transformer.py builds a tiny one
    assert set(TINY) == set(MODELS) - {"transformer"}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_parity_at_export(name: str, tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit(name, data)
    result = export_model(model, tmp_path / "model.onnx", texts=data.texts)
    assert result.max_abs_diff <= 1e-4
    assert result.parity_texts == len(data.texts) + 202
    assert result.size_bytes == (tmp_path / "model.onnx").stat().st_size
    expected = model.predict_proba([*data.texts, *PROBE])
    from_file = OnnxClassifier.load(tmp_path / "model.onnx")
    np.testing.assert_allclose(from_file.predict_proba([*data.texts, *PROBE]), expected, atol=1e-4)
    options = from_file._session.get_session_options()  # a bag graph's threads sleep
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"

    export_model(model, tmp_path / "dir")
    loaded = load_model(tmp_path / "dir")
    assert (loaded.family, loaded.precision) == ("onnx", "fp32")  # type: ignore[attr-defined]
    np.testing.assert_allclose(loaded.predict_proba([*data.texts, *PROBE]), expected, atol=1e-4)
    assert loaded.predict(PROBE).tolist() == model.predict(PROBE).tolist()


def test_preprocessing_json_describes_the_model(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit("logreg+features", data)
    export_model(model, tmp_path / "m.onnx")
    document = json.loads((tmp_path / "m.preprocessing.json").read_text())
    assert document["labels"] == ["negative", "positive"]
    assert document["preprocessing"]["kind"] == "ngrams"
    assert document["preprocessing"]["features"] == ["length", "negations"]
    assert document["inputs"] == ["indices", "offsets", "weights"]
    assert sorted(document["arrays"]) == ["feature_mean", "feature_scale", "idf", "ngram_keys"]
    assert len(document["arrays"]["idf"]) == model.featurizer_.n_features  # type: ignore[attr-defined]
    assert document["vocabulary"] == list(model.featurizer_.vocabulary.words)  # type: ignore[attr-defined]


def test_parity_failure_writes_nothing(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit("logreg", data)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ExportError, match=r"differ by up to \d\.\d\de-\d\d in probability"):
        export_model(model, tmp_path / "m.onnx", tolerance=1e-15)
    assert sorted(tmp_path.iterdir()) == before


def test_onnx_model_cannot_be_exported_again_or_trained(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    export_model(fit("logreg", data), tmp_path / "dir")
    variant = load_model(tmp_path / "dir")
    with pytest.raises(ExportError, match="already an ONNX model"):
        export_model(variant, tmp_path / "again.onnx")
    with pytest.raises(ConfigError, match="made from a trained model, not trained"):
        variant.fit(data.texts, data.labels)


def test_variant_works_with_evaluate_predict_and_save(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit("nb", data)
    export_model(model, tmp_path / "dir")
    variant = load_model(tmp_path / "dir")
    assert evaluate(variant, data).metrics["accuracy"] == evaluate(model, data).metrics["accuracy"]
    assert predict(variant, ["wonderful"]).records()[0]["label"] == "positive"
    save_model(variant, tmp_path / "copy")
    np.testing.assert_array_equal(
        load_model(tmp_path / "copy").predict_proba(PROBE), variant.predict_proba(PROBE)
    )


def test_tampered_graph_is_refused(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    export_model(fit("logreg", data), tmp_path / "dir")
    graph = tmp_path / "dir" / "model.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match=r"model.onnx: SHA-256 does not match"):
        load_model(tmp_path / "dir")


def test_missing_preprocessing_file_is_one_clear_error(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    export_model(fit("logreg", data), tmp_path / "m.onnx")
    (tmp_path / "m.preprocessing.json").unlink()
    with pytest.raises(ArtifactError, match=r"m\.preprocessing\.json: missing"):
        OnnxClassifier.load(tmp_path / "m.onnx")


def test_empty_batch_and_single_string(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    export_model(fit("fasttext", data), tmp_path / "m.onnx")
    classifier = OnnxClassifier.load(tmp_path / "m.onnx")
    assert classifier.predict_proba([]).shape == (0, 2)
    with pytest.raises(TypeError, match="wrap it in a list"):
        classifier.predict_proba("one text")


def test_parity_texts_use_the_vocabulary() -> None:
    texts = parity_texts(["good", "bad"], n=5, seed=1)
    assert texts[:2] == ["", "zzqx unknownword"]
    assert len(texts) == 7
    assert all(set(t.split()) <= {"good", "bad"} for t in texts[2:])
    assert parity_texts(["good", "bad"], n=5, seed=1) == texts


def test_serving_needs_neither_torch_nor_scikit_learn(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    export_model(fit("fasttext", data), tmp_path / "dir")
    code = (
        "import sys\n"
        "from modelcycle.runtime import OnnxClassifier\n"
        f"model = OnnxClassifier.load({str(tmp_path / 'dir')!r})\n"
        "print(model.predict(['a wonderful film']).tolist())\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["['positive']", "[]"]


def test_preprocessing_json_states_the_ngram_hash_that_features_computes() -> None:
    from modelcycle.export._export import NGRAM_HASH
    from modelcycle.features import ngram_keys

    assert "0x9E3779B97F4A7C15" in NGRAM_HASH["ngram"]
    doc, ids = np.array([0, 0, 0]), np.array([4, 7, 2])
    _, keys = ngram_keys(doc, ids, (2, 3))
    expected = []
    for n in (2, 3):
        for start in range(len(ids) - n + 1):
            h = 0
            for w in ids[start : start + n]:
                h = (h * 0x9E3779B97F4A7C15 + int(w) + 1) % 2**64
            expected.append((h & (2**61 - 1)) | (n << 61))
    assert sorted(keys.tolist()) == sorted(expected)


def test_the_models_postprocess_travels_with_the_export(tmp_path: Path, reviews_csv: Path) -> None:
    from modelcycle.postprocess import Postprocess

    data = load_dataset(reviews_csv)
    model = fit("logreg", data)
    model.postprocess_ = Postprocess(temperature=2.0)
    export_model(model, tmp_path / "dir")
    export_model(model, tmp_path / "m.onnx")
    variant = load_model(tmp_path / "dir")
    assert variant.postprocess_ is not None
    assert variant.postprocess_.temperature == 2.0
    from_file = OnnxClassifier.load(tmp_path / "m.onnx")
    assert from_file.postprocess is not None
    assert from_file.postprocess.temperature == 2.0
    np.testing.assert_allclose(  # predict applies the temperature to the variant as to the model
        predict(variant, PROBE).scores, predict(model, PROBE).scores, atol=1e-4
    )
