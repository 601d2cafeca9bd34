"""portable: text-input ONNX graphs (`export --text-input`) against `modelcycle predict` on SST-2
dev and IMDB test, every family: label agreement, largest probability difference, throughput from
strings (batch 32) beside modelcycle's Python preprocessing + the featurised graph, and what
fastText's n-grams never seen in training change."""

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
    "transformer": {"freeze": True, "epochs": 3, "batch_size": 64},  # MiniLM, max_length 128
}
IMDB_TRAIN = 10_000  # IMDB models are trained on a seeded sample of the train set (time)
TIMED = 2_048  # texts timed per dataset (SST-2 dev has 872: all of them)
# MiniLM runs at tens of texts per second on 2 cores: the transformer is trained on a seeded
# sample, compared on the first rows of each test set and timed on fewer texts
TRANSFORMER_ROWS = {"train": 2_000, "test": 1_000, "timed": 256}
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


def _session(path: Any, threads: int) -> Any:
    """The graph's session as modelcycle and the model card open it (one thread for a graph
    that sums bags with ScatterND, whose threads race in ONNX Runtime)."""
    from modelcycle.runtime import onnx_session

    return onnx_session(path.read_bytes(), threads=threads)


def _sample(data: Any, rows: int) -> Any:
    keep = np.random.default_rng(42).permutation(len(data))[:rows]
    return data.take(np.sort(keep))


def _family(ctx: Context, family: str, train: Any, test: Any) -> dict[str, Any]:
    from modelcycle.config import TrainConfig
    from modelcycle.export import export_model
    from modelcycle.runtime import OnnxClassifier
    from modelcycle.training import train as train_model

    timed_rows, full_test = TIMED, test
    if family == "transformer":
        train = _sample(train, TRANSFORMER_ROWS["train"])
        test = test.take(np.arange(min(len(test), TRANSFORMER_ROWS["test"])))
        timed_rows = TRANSFORMER_ROWS["timed"]
    config = TrainConfig(model=family, params=FAMILIES[family], seed=42)
    model = train_model(train, config, progress=False).model
    out = ctx.scratch / f"{family}.onnx"
    export_model(model, out, text_input=True)
    export_model(model, ctx.scratch / f"{family}-features.onnx")
    session = _session(out, ctx.threads)
    texts = test.texts

    def graph(batch: Sequence[str]) -> Any:
        return session.run(None, {"text": np.asarray(list(batch), dtype=object)})

    runs = [graph(texts[i : i + 256]) for i in range(0, len(texts), 256)]
    labels = np.concatenate([labels for labels, _ in runs]).astype(str)
    proba = np.concatenate([proba for _, proba in runs])
    expected_proba = model.predict_proba(texts)
    expected = model.predict(texts).astype(str)
    truth = np.asarray(test.labels, dtype=str)
    featurised = OnnxClassifier.load(ctx.scratch / f"{family}-features.onnx", threads=ctx.threads)
    timed = texts[:timed_rows]
    row: dict[str, Any] = {
        "n": len(texts),
        "train_rows": len(train),
        "agreement": float(np.mean(labels == expected)),
        "disagreements": int(np.sum(labels != expected)),
        "max_abs_diff": float(np.abs(proba - expected_proba).max()),
        "accuracy_graph": float(np.mean(labels == truth)),
        "accuracy_model": float(np.mean(expected == truth)),
        "graph_bytes": out.stat().st_size,
        "timed_texts": len(timed),
        "texts_per_s_text_graph": round(_throughput(graph, timed)),
        "texts_per_s_python_preprocessing_and_graph": round(
            _throughput(featurised.predict_proba, timed)
        ),
    }
    if family == "fasttext":
        row["unseen_ngrams"] = _unseen_ngrams(model, train.texts, texts, expected, truth)
    if family == "transformer":
        row["tokens"] = _tokens_agreement(model, out, full_test.texts, ctx.threads)
    return row


def _tokens_agreement(model: Any, path: Any, texts: Sequence[str], threads: int) -> dict[str, Any]:
    """The text graph's WordPiece front (the nodes up to the encoder's ``input_ids``) against
    modelcycle's tokenizer on every test text: where the ids agree, so does the encoder."""
    import onnx
    from onnx import helper

    graph = onnx.load(path)
    needed, nodes = {"net/input_ids"}, list[Any]()
    for node in reversed(graph.graph.node):
        if needed & set(node.output):
            nodes.insert(0, node)
            needed |= set(node.input)
    front = helper.make_graph(
        nodes,
        "wordpiece",
        list(graph.graph.input),
        [helper.make_tensor_value_info("net/input_ids", onnx.TensorProto.INT64, ["n", "t"])],
        [init for init in graph.graph.initializer if init.name in needed],
    )
    model_front = helper.make_model(front, opset_imports=graph.opset_import)
    model_front.ir_version = graph.ir_version
    (path.parent / "front.onnx").write_bytes(model_front.SerializeToString())
    session = _session(path.parent / "front.onnx", threads)
    differ = []
    for start in range(0, len(texts), 256):
        batch = list(texts[start : start + 256])
        (ids,) = session.run(None, {"text": np.asarray(batch, dtype=object)})
        want = model.tokenizer_.inputs(batch)["input_ids"]
        for i, (got, expected) in enumerate(zip(ids, want, strict=True)):
            if not np.array_equal(np.trim_zeros(got, "b"), np.trim_zeros(expected, "b")):
                differ.append(start + i)
    return {"n": len(texts), "texts_tokenized_differently": len(differ), "rows": differ[:20]}


def _unseen_ngrams(
    model: Any, train: Sequence[str], texts: Sequence[str], expected: np.ndarray, truth: np.ndarray
) -> dict[str, Any]:
    """fastText's n-grams that no training text contains. modelcycle (and so the text graph,
    which hashes every n-gram the same way) reads their buckets' rows, which training never
    updated (their random start, or a seen n-gram's row where the hashes collide). A table of
    only the rows training touched would drop them instead: what would that change?"""
    import torch

    featurizer = model.featurizer_
    seen = np.zeros(featurizer.size, dtype=bool)
    seen[featurizer.encode(list(train))[0]] = True
    ids, offsets = featurizer.encode(list(texts))
    rows = np.repeat(np.arange(len(texts)), np.diff(np.append(offsets, len(ids))))
    keep = seen[ids]
    counts = np.bincount(rows[keep], minlength=len(texts))
    module = model.module_.eval()
    with torch.no_grad():
        logits = module(
            torch.from_numpy(ids[keep]),
            torch.from_numpy(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)),
        )
    dropped = model.classes_[logits.argmax(dim=1).numpy()].astype(str)
    n_words = featurizer.size - featurizer.buckets
    ngram = ids >= n_words
    return {
        "share_of_ngram_ids_unseen": float(np.mean(~keep[ngram])) if ngram.any() else 0.0,
        "share_of_texts_with_one": float(
            np.mean(np.bincount(rows[~keep], minlength=len(texts)) > 0)
        ),
        "labels_changed_if_dropped": float(np.mean(dropped != expected)),
        "accuracy_as_trained": float(np.mean(expected == truth)),
        "accuracy_if_dropped": float(np.mean(dropped == truth)),
    }


def run(ctx: Context) -> dict[str, Any]:
    import torch

    from modelcycle.data import load_dataset

    torch.set_num_threads(ctx.threads)
    sets = {
        "sst2": (ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")),
        "imdb": (ctx.dataset("imdb/train.csv.gz"), ctx.dataset("imdb/test.csv.gz")),
    }
    figures: dict[str, Any] = {}
    targets: dict[str, bool] = {}
    for name, (train_path, test_path) in sets.items():
        train, test = load_dataset(train_path), load_dataset(test_path)
        if name == "imdb":
            train = _sample(train, IMDB_TRAIN)
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
        f"{IMDB_TRAIN:,} training reviews; the transformer, a frozen MiniLM + head: a seeded "
        f"sample of {TRANSFORMER_ROWS['train']:,} training texts, compared on the first "
        f"{TRANSFORMER_ROWS['test']:,} test texts and timed on {TRANSFORMER_ROWS['timed']}), "
        "export it with --text-input, compare the graph's labels and probabilities with "
        "modelcycle's on the whole test set; throughput from strings, batch "
        f"{BATCH}, {ctx.threads} ONNX Runtime threads, best of 3 passes over the first "
        f"{TIMED:,} test texts, in-process; fasttext: its n-grams never seen in training",
        "figures": figures,
        "summary": {
            f"{name} {family}": {
                k: row[k]
                for k in (
                    "n",
                    "agreement",
                    "max_abs_diff",
                    "texts_per_s_text_graph",
                    "texts_per_s_python_preprocessing_and_graph",
                )
            }
            for name, rows in figures.items()
            for family, row in rows.items()
        },
        "unseen_ngrams": {
            name: rows["fasttext"]["unseen_ngrams"] for name, rows in figures.items()
        },
        "transformer_tokens": {
            name: rows["transformer"]["tokens"] for name, rows in figures.items()
        },
        "targets": targets,
    }
