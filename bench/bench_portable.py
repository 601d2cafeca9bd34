"""portable: text-input ONNX graphs (`export --text-input`) against `modelcycle predict` on SST-2
dev and IMDB test: label agreement, largest probability difference, and throughput from strings
(batch 32) beside modelcycle's Python preprocessing + the featurised graph."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench._harness import Context

FAMILIES: dict[str, dict[str, Any]] = {
    "logreg": {},
    "svm": {},
    "nb": {},
    "mlp": {"max_features": 100_000, "hidden": [64], "epochs": 3},
    "fasttext": {"dim": 10, "ngrams": 2, "buckets": 2_000_000, "epochs": 5},
}
IMDB_TRAIN = 10_000  # IMDB models are trained on a seeded sample of the train set (time)
TIMED = 2_048  # texts timed per dataset (SST-2 dev has 872: all of them)
BATCH = 32
AGREEMENT = 0.999
LINEAR_TOLERANCE = 1e-4


def _throughput(predict: Callable[[Sequence[str]], Any], texts: Sequence[str]) -> float:
    """Texts per second through ``predict`` in batches of :data:`BATCH` (best of 3 passes)."""
    best = float("inf")
    predict(texts[:BATCH])  # warm-up
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            predict(texts[i : i + BATCH])
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def _family(ctx: Context, family: str, train: Any, test: Any) -> dict[str, Any]:
    import onnxruntime as ort

    from modelcycle.config import TrainConfig
    from modelcycle.export import export_model
    from modelcycle.runtime import OnnxClassifier
    from modelcycle.training import train as train_model

    config = TrainConfig(model=family, params=FAMILIES[family], seed=42)
    model = train_model(train, config, progress=False).model
    out = ctx.scratch / f"{family}.onnx"
    export_model(model, out, text_input=True)
    export_model(model, ctx.scratch / f"{family}-features.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = ctx.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    texts = test.texts

    def graph(batch: Sequence[str]) -> Any:
        return session.run(None, {"text": np.asarray(list(batch), dtype=object)})

    labels = np.concatenate([graph(texts[i : i + 1024])[0] for i in range(0, len(texts), 1024)])
    proba = np.concatenate([graph(texts[i : i + 1024])[1] for i in range(0, len(texts), 1024)])
    expected_proba = model.predict_proba(texts)
    expected = model.predict(texts).astype(str)
    featurised = OnnxClassifier.load(ctx.scratch / f"{family}-features.onnx", threads=ctx.threads)
    timed = texts[:TIMED]
    return {
        "n": len(texts),
        "agreement": float(np.mean(labels.astype(str) == expected)),
        "max_abs_diff": float(np.abs(proba - expected_proba).max()),
        "accuracy_graph": float(np.mean(labels.astype(str) == np.asarray(test.labels, dtype=str))),
        "accuracy_model": float(np.mean(expected == np.asarray(test.labels, dtype=str))),
        "graph_bytes": out.stat().st_size,
        "texts_per_s_text_graph": round(_throughput(graph, timed)),
        "texts_per_s_python_preprocessing_and_graph": round(
            _throughput(featurised.predict_proba, timed)
        ),
    }


def run(ctx: Context) -> dict[str, Any]:
    from modelcycle.data import load_dataset

    sets = {
        "sst2": (ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")),
        "imdb": (ctx.dataset("imdb/train.csv.gz"), ctx.dataset("imdb/test.csv.gz")),
    }
    figures: dict[str, Any] = {}
    targets: dict[str, bool] = {}
    for name, (train_path, test_path) in sets.items():
        train, test = load_dataset(train_path), load_dataset(test_path)
        if name == "imdb":
            rows = np.random.default_rng(42).permutation(len(train))[:IMDB_TRAIN]
            train = train.take(np.sort(rows))
        figures[name] = {}
        for family in FAMILIES:
            row = _family(ctx, family, train, test)
            figures[name][family] = row
            print(f"   {name} {family}: {row}", flush=True)
            targets[f"{name} {family}: labels agree >= 99.9%"] = row["agreement"] >= AGREEMENT
            if family in ("logreg", "svm", "nb"):
                targets[f"{name} {family}: probabilities within 1e-4"] = (
                    row["max_abs_diff"] <= LINEAR_TOLERANCE
                )
    return {
        "what": "train each family (IMDB: a seeded sample of "
        f"{IMDB_TRAIN:,} training reviews), export it with --text-input, compare the graph's "
        "labels and probabilities with modelcycle's on the whole test set; throughput from "
        f"strings, batch {BATCH}, {ctx.threads} ONNX Runtime threads, best of 3 passes over "
        f"the first {TIMED:,} test texts, in-process",
        "figures": figures,
        "summary": {
            f"{name} {family}": {
                k: row[k]
                for k in (
                    "agreement",
                    "max_abs_diff",
                    "texts_per_s_text_graph",
                    "texts_per_s_python_preprocessing_and_graph",
                )
            }
            for name, rows in figures.items()
            for family, row in rows.items()
        },
        "targets": targets,
    }
