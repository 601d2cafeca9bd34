"""Quantization: the variants, the table's figures against the files and evaluate, the guardrail,
the choice under a budget and the settings refused."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelcycle.artifacts import verify_manifest
from modelcycle.config import QuantizeConfig
from modelcycle.data import Dataset, load_dataset
from modelcycle.evaluation import evaluate
from modelcycle.exceptions import ConfigError
from modelcycle.models import TextClassifier, load_model, make_model
from modelcycle.prediction import predict
from modelcycle.quantization import QuantizationTable, prune_rows, quantize

FAST = {"latency_texts": 5, "throughput_texts": 64, "guardrail_texts": 50}
FASTTEXT = {"epochs": 20, "batch_size": 4, "buckets": 1000, "dim": 8}


@pytest.fixture
def data(reviews_csv: Path) -> Dataset:
    return load_dataset(reviews_csv)


@pytest.fixture
def larger(tmp_path: Path) -> Dataset:
    """240 made-up reviews over 300 words: enough n-grams that the weights outweigh the graph."""
    rng = np.random.default_rng(0)
    filler = [f"word{i}" for i in range(300)]
    good, bad = ["great", "wonderful", "loved"], ["awful", "boring", "hated"]
    rows = ["text,label"]
    for i in range(240):
        label = "positive" if i % 2 else "negative"
        words = [*rng.choice(filler, 12), *rng.choice(good if i % 2 else bad, 2)]
        rng.shuffle(words)
        rows.append(f"{' '.join(words)},{label}")
    path = tmp_path / "larger.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return load_dataset(path)


def fit(family: str, data: Dataset, **params: Any) -> TextClassifier:
    return make_model(family, params, seed=0).fit(data.texts, data.labels)


def run(
    model: TextClassifier, data: Dataset, out: Path, **settings: Any
) -> tuple[QuantizationTable, dict[str, Any]]:
    table = quantize(model, data, out, QuantizeConfig(**{**FAST, **settings}))
    return table, json.loads((out / "quantization.json").read_text())


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("logreg", {"min_df": 1}),
        ("mlp", {"min_df": 1, "epochs": 8, "batch_size": 4, "patience": None, "hidden": (16,)}),
        ("fasttext", FASTTEXT),
    ],
)
def test_table_sizes_are_file_sizes_and_accuracy_is_evaluate(
    family: str, params: dict[str, Any], tmp_path: Path, larger: Dataset
) -> None:
    data = larger
    model = fit(family, data, **params)
    table, document = run(model, data, tmp_path / "q", precisions=("fp16", "int8"))
    assert [r["precision"] for r in document["rows"]] == ["fp32", "fp16", "int8"]
    assert (document["n"], document["batch_size"], document["threads"]) == (240, 32, 2)
    assert "ONNX Runtime" in document["device"]
    for row in document["rows"]:
        variant = tmp_path / "q" / row["precision"]
        files = [f for f in variant.iterdir() if f.is_file()]
        assert row["size_bytes"] == (variant / "model.onnx").stat().st_size
        assert row["dir_size_bytes"] == sum(f.stat().st_size for f in files)
        loaded = load_model(variant)
        assert row["accuracy"] == evaluate(loaded, data).metrics["accuracy"]
        assert json.loads((variant / "model.json").read_text())["precision"] == row["precision"]
        for key in ("latency_ms_p50", "latency_ms_p95", "throughput_per_s", "speedup"):
            assert row[key] > 0
    fp32, fp16, int8 = document["rows"]
    assert fp32["size_ratio"] == 1.0
    assert fp32["agreement"] == 1.0
    assert 0.49 <= fp16["weights_ratio"] <= 0.52
    assert int8["weights_ratio"] <= 0.30
    assert fp16["size_bytes"] < fp32["size_bytes"]
    assert int8["size_bytes"] < fp16["size_bytes"]
    assert fp16["agreement"] == 1.0
    expected = np.mean(
        load_model(tmp_path / "q" / "int8").predict(data.texts)
        == load_model(tmp_path / "q" / "fp32").predict(data.texts)
    )
    assert int8["agreement"] == pytest.approx(expected)
    assert int8["accuracy_delta"] == pytest.approx(int8["accuracy"] - fp32["accuracy"])
    assert table.row("int8") == int8
    verify_manifest(tmp_path / "q")
    assert (tmp_path / "q" / "quantization.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (tmp_path / "q" / "quantization.md").read_text()
    assert "| int8 |" in markdown
    assert "INT8 guardrail" in markdown


def test_variants_predict_through_the_normal_api(tmp_path: Path, data: Dataset) -> None:
    model = fit("nb", data, min_df=1)
    run(model, data, tmp_path / "q", precisions=("fp16", "int8"))
    for precision in ("fp32", "fp16", "int8"):
        variant = load_model(tmp_path / "q" / precision)
        records = predict(variant, ["wonderful brilliant", "awful boring"]).records()
        assert [r["label"] for r in records] == ["positive", "negative"]


def test_each_variant_records_its_own_measured_figures(tmp_path: Path, data: Dataset) -> None:
    model = fit("nb", data, min_df=1)
    _, document = run(model, data, tmp_path / "q", precisions=("fp16", "int8"))
    for row in document["rows"]:
        variant = tmp_path / "q" / row["precision"]
        metrics = json.loads((variant / "model.json").read_text())["metrics"]
        report = evaluate(load_model(variant), data)  # verifies the manifest, too
        assert metrics == {
            "accuracy": row["accuracy"],
            "macro_f1": report.metrics["macro_f1"],
            "latency_ms_p50": row["latency_ms_p50"],
            "latency_ms_p95": row["latency_ms_p95"],
            "model_latency_ms_p50": row["model_latency_ms_p50"],
            "throughput_per_s": row["throughput_per_s"],
            "n": len(data),
            "data": data.source,
        }
        assert row["dir_size_bytes"] == sum(f.stat().st_size for f in variant.iterdir())
    verify_manifest(tmp_path / "q")


def test_static_int8_with_calibration(tmp_path: Path, data: Dataset) -> None:
    model = fit("mlp", data, min_df=1, epochs=8, batch_size=4, patience=None, hidden=(16,))
    table, document = run(model, data, tmp_path / "q", calibrate=10)
    assert [r["precision"] for r in document["rows"]] == ["fp32", "fp16", "int8", "int8-static"]
    assert "static" in table.row("int8-static")["method"]
    assert document["guardrail"]["attempts"]["int8-static"][0]["method"].startswith(
        "ONNX Runtime static INT8"
    )


def test_guardrail_walks_the_ladder_and_says_when_it_misses(tmp_path: Path, data: Dataset) -> None:
    model = fit("fasttext", data, **{**FASTTEXT, "hidden": (4,)})
    table, document = run(model, data, tmp_path / "q", precisions=("int8",), max_weight_ratio=0.01)
    attempts = document["guardrail"]["attempts"]["int8"]
    assert [a["method"].split(",")[0] for a in attempts[:3]] == [
        "ONNX Runtime dynamic INT8",
        "dynamic INT8",
        "dynamic INT8",
    ]
    assert "sensitivity scan" in attempts[-1]["method"]
    assert not any(a["passed"] for a in attempts)
    assert sum(bool(a.get("kept")) for a in attempts) == 1
    assert "guardrail MISSED" in document["guardrail"]["summary"]
    assert "guardrail missed" in table.row("int8")["method"]


def test_max_accuracy_drop_picks_the_smallest_within_budget(tmp_path: Path, data: Dataset) -> None:
    model = fit("logreg", data, min_df=1)
    _table, document = run(model, data, tmp_path / "q", max_accuracy_drop=100.0)
    smallest = min(document["rows"], key=lambda r: r["size_bytes"])
    assert document["choice"]["precision"] == smallest["precision"]
    assert document["choice"]["reason"].startswith(
        f"{smallest['precision']} is the smallest variant within 100 accuracy points of FP32"
    )
    _, document = run(model, data, tmp_path / "q2")
    assert document["choice"] is None


def test_fasttext_pruning_and_product_quantization(tmp_path: Path, data: Dataset) -> None:
    model = fit("fasttext", data, **FASTTEXT)
    table, document = run(model, data, tmp_path / "q", prune_vocab=200)
    names = [r["precision"] for r in document["rows"]]
    assert names == ["fp32", "fp16", "int8", "pruned", "pq"]
    assert "200 of 1,0" in table.row("pruned")["method"]
    assert "largest norms through the next layer" in table.row("pruned")["method"]
    assert table.row("pq")["size_bytes"] < table.row("int8")["size_bytes"]
    assert table.row("pruned")["size_ratio"] < 0.25
    for name in ("pruned", "pq"):
        assert load_model(tmp_path / "q" / name).predict(["wonderful"]).tolist() == ["positive"]


def test_pruned_variant_averages_only_the_kept_rows(tmp_path: Path, data: Dataset) -> None:
    model = fit("fasttext", data, **FASTTEXT)
    run(model, data, tmp_path / "q", precisions=("pruned",), prune_vocab=50)
    state = model.get_state()
    table = state.tensors["embedding.weight"]
    kept = prune_rows(table, 50, state.tensors["head.first.weight"].T)
    ids, offsets = model.featurizer_.encode(data.texts)  # type: ignore[attr-defined]
    ends = np.append(offsets[1:], len(ids))
    expected = []
    for start, end in zip(offsets, ends, strict=True):
        rows = [i for i in ids[start:end] if i in set(kept.tolist())]
        bag = table[rows].mean(axis=0) if rows else np.zeros(table.shape[1])
        scores = bag @ state.tensors["head.first.weight"].T + state.tensors["head.bias"]
        expected.append(np.exp(scores) / np.exp(scores).sum())
    measured = load_model(tmp_path / "q" / "pruned").predict_proba(data.texts)
    np.testing.assert_allclose(measured, np.asarray(expected), atol=1e-5)


@pytest.mark.parametrize(
    ("family", "settings", "message"),
    [
        ("logreg", {"prune_vocab": 10}, "--prune-vocab applies to the fasttext family only"),
        ("logreg", {"precisions": ("pq",)}, "precision 'pq' applies to the fasttext family only"),
        ("logreg", {"precisions": ("int8-static",)}, "needs --calibrate N"),
    ],
)
def test_bad_settings_are_refused_before_writing(
    family: str, settings: dict[str, Any], message: str, tmp_path: Path, data: Dataset
) -> None:
    model = fit(family, data, min_df=1)
    with pytest.raises(ConfigError, match=message):
        quantize(model, data, tmp_path / "q", QuantizeConfig(**settings))
    assert not (tmp_path / "q").exists()


def test_unknown_precision_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"quantize\.precisions must be one of fp32, fp16, int8"):
        QuantizeConfig(precisions=("int4",))
