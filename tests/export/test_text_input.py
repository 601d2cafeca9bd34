"""Text-input graphs: strings in, modelcycle's labels and probabilities out, on plain ONNX
Runtime (Python without modelcycle, and JavaScript with onnxruntime-node)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.data import load_dataset
from modelcycle.exceptions import ExportError
from modelcycle.export import card_path, export_model, run_text_graph
from modelcycle.models import TextClassifier, load_model, make_model
from modelcycle.postprocess import Postprocess, Threshold
from modelcycle.prediction import predict

FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "logreg": ("logreg", {"min_df": 1}),
    "svm-trigrams": ("svm", {"min_df": 1, "ngram_range": (1, 3)}),
    "nb": ("nb", {"min_df": 1}),
    "logreg-max-features": ("logreg", {"min_df": 1, "max_features": 30}),
    "mlp": ("mlp", {"min_df": 1, "epochs": 5, "batch_size": 4, "hidden": (8,)}),
    "fasttext": ("fasttext", {"epochs": 10, "batch_size": 4, "buckets": 1000}),
    "fasttext-trigrams": ("fasttext", {"epochs": 5, "buckets": 50, "ngrams": 3}),
}
# tags between words (n-grams form across them), unknown words (they break n-grams), capitals,
# accents, punctuation tokens, apostrophes, an empty text and fastText's own end token
PROBE = [
    "A WONDERFUL film<br /><br />great cast!",
    "boring<b>film</b> I hated it?",
    "Ça m'a plu: wonderful, don't miss it",
    "",
    "<br />",
    "zzqx unknownword film great",
    "great </s> film",
    "it's a terrible,terrible plot... '' loved",
]
FIVE = ["A wonderful film", "truly awful, I hated it", "Brilliant!<br />Loved it", "", "dull"]


def fit(name: str, texts: list[str], labels: list[str]) -> TextClassifier:
    family, params = FAMILIES[name]
    return make_model(family, params, seed=0).fit(texts, labels)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_text_graph_matches_the_model(name: str, tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit(name, data.texts, data.labels)
    result = export_model(model, tmp_path / "m.onnx", text_input=True, texts=data.texts)
    assert result.max_abs_diff <= 1e-4
    assert result.parity_texts == len(data.texts) + 202
    texts = [*data.texts, *PROBE]
    labels, proba = run_text_graph((tmp_path / "m.onnx").read_bytes(), texts)
    assert labels.tolist() == model.predict(texts).tolist()
    np.testing.assert_allclose(proba, model.predict_proba(texts), atol=1e-4)
    assert not (tmp_path / "m.preprocessing.json").exists()  # the graph needs nothing beside it


def test_text_graph_applies_temperature_and_threshold(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit("logreg", data.texts, data.labels)
    model.postprocess_ = Postprocess(2.0, Threshold("positive", 0.9, "precision"))
    export_model(model, tmp_path / "m.onnx", text_input=True)
    labels, proba = run_text_graph((tmp_path / "m.onnx").read_bytes(), data.texts)
    expected_labels, calibrated = model.postprocess_.apply(
        model.predict_proba(data.texts), model.classes_
    )
    np.testing.assert_allclose(proba, calibrated, atol=1e-5)
    assert labels.tolist() == expected_labels.tolist()
    assert labels.tolist() != model.predict(data.texts).tolist()  # the threshold changed some
    card = card_path(tmp_path / "m.onnx").read_text()
    assert "4. temperature 2.0 (calibration)" in card
    assert "5. `positive` when its probability >= 0.9" in card


def test_a_tie_is_not_a_parity_failure(tmp_path: Path) -> None:
    # symmetric data: texts without known words score 0.5/0.5, and float noise picks the label
    texts = ["a wonderful film", "awful boring", "great cast", "terrible plot"] * 3
    model = make_model("logreg", {"min_df": 1}, seed=0).fit(texts, ["pos", "neg"] * 6)
    tie = model.predict_proba([""])[0]
    assert abs(tie[0] - tie[1]) < 1e-6
    result = export_model(model, tmp_path / "m.onnx", text_input=True)
    assert result.max_abs_diff <= 1e-4


def test_engineered_features_are_refused(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = make_model("logreg", {"min_df": 1, "features": ("length",)}, seed=0)
    model.fit(data.texts, data.labels)
    with pytest.raises(ExportError, match=r"engineered features \['length'\], which a text-input"):
        export_model(model, tmp_path / "m.onnx", text_input=True)
    assert not (tmp_path / "m.onnx").exists()


def test_text_graph_as_a_model_directory(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit("nb", data.texts, data.labels)
    model.postprocess_ = Postprocess(2.0, Threshold("positive", 0.9, "precision"))
    export_model(model, tmp_path / "dir", text_input=True)
    loaded = load_model(tmp_path / "dir")
    assert loaded.get_state().preprocessing == {"kind": "text"}
    assert (tmp_path / "dir" / "model.model_card.md").is_file()
    texts = [*data.texts, *PROBE]
    expected = model.postprocess_.apply(model.predict_proba(texts), model.classes_)
    answer = predict(loaded, texts)  # what `modelcycle predict` and the server answer
    assert answer.labels.tolist() == expected[0].tolist()
    np.testing.assert_allclose(answer.scores, expected[1], atol=1e-5)


def test_cli_writes_graph_and_card(
    tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "text.onnx"
    result = runner.invoke(app, ["export", str(model), "-o", str(out), "--text-input"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out} and {tmp_path / 'text.model_card.md'} (logreg, ")
    card = (tmp_path / "text.model_card.md").read_text()
    assert "| `label` | string | [n] | the answer, one of `negative`, `positive` |" in card
    assert "- parity with `modelcycle predict`: labels equal on all 202 texts" in card
    assert "## How it was trained" in card
    labels, _ = run_text_graph(out.read_bytes(), ["a wonderful film", "awful and boring"])
    assert labels.tolist() == ["positive", "negative"]


PLAIN = """
import json, sys
import numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
labels, proba = session.run(None, {"text": np.array(json.loads(sys.argv[2]), dtype=object)})
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "modelcycle")
print(json.dumps({"labels": labels.tolist(), "proba": proba.tolist(), "modelcycle": loaded}))
"""


def test_plain_onnxruntime_runs_it_without_modelcycle(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = fit("fasttext", data.texts, data.labels)
    export_model(model, tmp_path / "m.onnx", text_input=True)
    done = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN, str(tmp_path / "m.onnx"), json.dumps(FIVE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    answer = json.loads(done.stdout)
    assert answer["modelcycle"] == []
    assert answer["labels"] == model.predict(FIVE).tolist()
    np.testing.assert_allclose(answer["proba"], model.predict_proba(FIVE), atol=1e-4)


JS = Path(__file__).parent / "js"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """onnxruntime-node installed from the npm registry (once, into a cache folder)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the JavaScript check needs them")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    folder = cache / "modelcycle-tests" / "js"
    package = (JS / "package.json").read_text()
    if (
        not (folder / "node_modules" / "onnxruntime-node").is_dir()
        or (folder / "package.json").read_text() != package
    ):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(package)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"],
            cwd=folder,
            # the CPU runtime is in the package; skip the download of the CUDA one
            env={**os.environ, "ONNXRUNTIME_NODE_INSTALL": "skip"},
            capture_output=True,
            timeout=300,
            check=True,
        )
    return folder / "node_modules"


@pytest.mark.parametrize("name", ["logreg", "fasttext"])
def test_javascript_gets_modelcycles_labels(
    name: str, node_modules: Path, tmp_path: Path, reviews_csv: Path
) -> None:
    data = load_dataset(reviews_csv)
    model = fit(name, data.texts, data.labels)
    export_model(model, tmp_path / "m.onnx", text_input=True)
    (tmp_path / "texts.json").write_text(json.dumps(FIVE))
    done = subprocess.run(
        ["node", str(JS / "predict.js"), str(tmp_path / "m.onnx"), str(tmp_path / "texts.json")],
        env={**os.environ, "NODE_PATH": str(node_modules)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(done.stdout)
    assert answer["labels"] == model.predict(FIVE).tolist()
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(FIVE), atol=1e-4)


@pytest.fixture(scope="module")
def lettered_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT with every letter as a ``##`` piece (any ASCII word is tokenizable)."""
    pytest.importorskip("transformers", reason="the transformer extra is not installed")
    pytest.importorskip("onnxruntime_extensions", reason="the onnx extra is not installed")
    from tests.tiny_bert import make_tiny_backbone

    return make_tiny_backbone(tmp_path_factory.mktemp("tiny-bert"), letters=True)


def test_transformer_tokenizes_in_graph(
    lettered_backbone: Path, tmp_path: Path, reviews_csv: Path
) -> None:
    data = load_dataset(reviews_csv)
    params = {"backbone": str(lettered_backbone), "epochs": 2, "batch_size": 8, "max_length": 12}
    model = make_model("transformer", params, seed=0).fit(data.texts, data.labels)
    result = export_model(model, tmp_path / "t.onnx", text_input=True, texts=data.texts)
    assert result.max_abs_diff <= 1e-4
    long = "a wonderful film " * 10  # truncated to 12 tokens, [SEP] kept
    texts = [*data.texts, *PROBE[:4], long, "Éclair, DON'T miss it?!"]
    labels, proba = run_text_graph((tmp_path / "t.onnx").read_bytes(), texts)
    assert labels.tolist() == model.predict(texts).tolist()
    np.testing.assert_allclose(proba, model.predict_proba(texts), atol=1e-4)
    assert "BertTokenizer" in card_path(tmp_path / "t.onnx").read_text()


README = Path(__file__).parents[2] / "README.md"
README_TEXTS = ["I loved it", "A tedious mess."]  # what the README's snippets predict


def readme_snippet(language: str) -> str:
    """The README's ``language`` block that runs ``text_model.onnx``."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)
    (block,) = [block for block in blocks if "text_model.onnx" in block]
    return str(block)


@pytest.fixture
def text_model(tmp_path: Path, reviews_csv: Path) -> TextClassifier:
    """A logreg exported as ``tmp_path / "text_model.onnx"``, as the README exports one."""
    data = load_dataset(reviews_csv)
    model = fit("logreg", data.texts, data.labels)
    export_model(model, tmp_path / "text_model.onnx", text_input=True)
    return model


def test_the_readme_python_snippet_runs_as_written(
    text_model: TextClassifier, tmp_path: Path
) -> None:
    report = "import json; print(json.dumps([labels.tolist(), probabilities.tolist()]))"
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"{readme_snippet('py')}\n{report}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    labels, proba = json.loads(done.stdout)
    assert labels == text_model.predict(README_TEXTS).tolist()
    np.testing.assert_allclose(proba, text_model.predict_proba(README_TEXTS), atol=1e-4)


def test_the_readme_javascript_snippet_runs_as_written(
    text_model: TextClassifier, node_modules: Path, tmp_path: Path
) -> None:
    (tmp_path / "node_modules").symlink_to(node_modules)  # where an ES module's import looks
    report = "console.log(JSON.stringify(Array.from(label.data)));"
    (tmp_path / "readme.mjs").write_text(f"{readme_snippet('js')}\n{report}\n")
    done = subprocess.run(
        ["node", "readme.mjs"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    assert json.loads(done.stdout) == text_model.predict(README_TEXTS).tolist()
