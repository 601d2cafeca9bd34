"""Quantized variants keep text input: ``text.onnx`` in each variant's directory computes, from
strings, what the variant's featurised graph computes."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from modelcycle.artifacts import verify_manifest
from modelcycle.cli import app
from modelcycle.config import QuantizeConfig
from modelcycle.data import Dataset, load_dataset
from modelcycle.export import run_text_graph
from modelcycle.models import load_model, make_model
from modelcycle.quantization import quantize

FAST = {"latency_texts": 5, "throughput_texts": 64, "guardrail_texts": 50}
PROBE = ["A WONDERFUL film<br />great cast!", "boring<b>film</b> I hated it?", "", "unknownword"]


@pytest.fixture
def data(reviews_csv: Path) -> Dataset:
    return load_dataset(reviews_csv)


@pytest.mark.parametrize(
    ("family", "params", "settings", "variants"),
    [
        ("logreg", {"min_df": 1}, {}, ["fp32", "fp16", "int8"]),
        (
            "fasttext",
            {"epochs": 20, "batch_size": 4, "buckets": 1000, "dim": 8},
            {"prune_vocab": 200},
            ["fp32", "fp16", "int8", "pruned", "pq"],
        ),
        ("transformer", {"freeze": True, "epochs": 3}, {}, ["fp32", "fp16", "int8"]),
    ],
)
def test_every_variant_keeps_text_input(
    family: str,
    params: dict[str, Any],
    settings: dict[str, Any],
    variants: list[str],
    tmp_path: Path,
    data: Dataset,
) -> None:
    if family == "transformer":
        pytest.importorskip("transformers", reason="the transformer extra is not installed")
        pytest.importorskip("onnxruntime_extensions", reason="the onnx extra is not installed")
        from tests.tiny_bert import make_tiny_backbone

        # every letter a WordPiece (as in a real BERT vocabulary): any word tokenizes alike
        params = {**params, "backbone": str(make_tiny_backbone(tmp_path / "bert", letters=True))}
    model = make_model(family, params, seed=0).fit(data.texts, data.labels)
    config = QuantizeConfig(**{**FAST, **settings, "text_input": True})
    table = quantize(model, data, tmp_path / "q", config)
    assert [row["precision"] for row in table.rows] == variants
    texts = [*data.texts, *PROBE]
    for name in variants:
        folder = tmp_path / "q" / name
        verify_manifest(folder)  # text.onnx and its card are in the manifest
        variant = load_model(folder)
        labels, proba = run_text_graph((folder / "text.onnx").read_bytes(), texts)
        assert labels.tolist() == variant.predict(texts).tolist(), name
        np.testing.assert_allclose(proba, variant.predict_proba(texts), atol=1e-4, err_msg=name)
        card = (folder / "text.model_card.md").read_text()
        assert "| `label` | string | [n] | the answer, one of `negative`, `positive` |" in card


def test_without_the_setting_there_is_no_text_graph(tmp_path: Path, data: Dataset) -> None:
    model = make_model("nb", {"min_df": 1}, seed=0).fit(data.texts, data.labels)
    quantize(model, data, tmp_path / "q", QuantizeConfig(**FAST, precisions=("fp16",)))
    assert not (tmp_path / "q" / "fp16" / "text.onnx").exists()


def test_cli_flag(tmp_path: Path, runner: CliRunner, model: Path, reviews_csv: Path) -> None:
    out = tmp_path / "q"
    args = ["quantize", str(model), "--data", str(reviews_csv), "-o", str(out)]
    extra = ["--precision", "fp16", "--text-input", "--calibration-data", str(reviews_csv)]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    labels, _ = run_text_graph((out / "fp16" / "text.onnx").read_bytes(), ["a wonderful film"])
    assert labels.tolist() == ["positive"]
    table = json.loads((out / "quantization.json").read_text())
    assert table["source"]["calibration"] == "given texts"
