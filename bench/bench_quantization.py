"""quantization: the blog's precision table measured for every family on SST-2 and IMDB, with
fastText's own `quantize` on the same data as the anchor of the FastText.zip rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench._harness import Context, measure

BLOG = {  # the blog's illustrative table: precision -> (size, speed, accuracy)
    "fp32": ("100 MB", "1x", "95%"),
    "fp16": ("50 MB", "1.8x", "94.8%"),
    "int8": ("25 MB", "3x", "94%"),
}
FAMILIES: dict[str, dict[str, Any]] = {
    "logreg": {},
    "svm": {},
    "nb": {},
    "mlp": {"max_features": 100_000, "hidden": [64], "epochs": 3},
    "fasttext": {"dim": 10, "ngrams": 2, "buckets": 2_000_000, "epochs": 5},  # adagrad
}
PRUNE = 100_000  # fastText's -cutoff in the anchor

MODELCYCLE = """
from modelcycle.config import QuantizeConfig, TrainConfig
from modelcycle.data import load_dataset
from modelcycle.quantization import quantize
from modelcycle.training import train
train_set, test = load_dataset({train!r}), load_dataset({test!r})
config = TrainConfig(model={family!r}, params={params!r}, seed=42)
model = train(train_set, config, progress=False).model
tick()
table = quantize(model, test, {out!r}, QuantizeConfig(threads={threads}, calibrate=256,
                 prune_vocab={prune!r}))
tock()
result["table"] = table.to_json()
"""

FASTTEXT = """
import os, fasttext
tick()
model = fasttext.train_supervised(input={train!r}, dim=10, wordNgrams=2, bucket=2000000,
                                  epoch=5, thread={threads}, seed=42, verbose=0)
model.save_model({out!r} + ".bin")
result["fp32_bytes"] = os.path.getsize({out!r} + ".bin")
result["fp32_accuracy"] = model.test({test!r})[1]
model.quantize(input={train!r}, qnorm=True, retrain=True, cutoff={prune}, thread={threads})
model.save_model({out!r} + ".ftz")
tock()
result["ftz_bytes"] = os.path.getsize({out!r} + ".ftz")
result["ftz_accuracy"] = model.test({test!r})[1]
"""


def _fasttext_file(source: Path, target: Path) -> Path:
    """The data in fastText's format: ``__label__X`` then the text, lower-cased, on one line."""
    from modelcycle.data import load_dataset

    data = load_dataset(source)
    with open(target, "w", encoding="utf-8") as handle:
        for text, label in zip(data.texts, data.labels, strict=True):
            clean = re.sub(r"\s+", " ", re.sub(r"<[^<>]{0,200}>", " ", str(text))).lower()
            handle.write(f"__label__{label} {clean}\n")
    return target


def run(ctx: Context) -> dict[str, Any]:
    datasets = {
        "sst2": (ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")),
        "imdb": (ctx.dataset("imdb/train.csv.gz"), ctx.dataset("imdb/test.csv.gz")),
    }
    figures: dict[str, Any] = {}
    targets: dict[str, bool] = {}
    for data, (train, test) in datasets.items():
        figures[data] = {}
        for family, params in FAMILIES.items():
            out = ctx.scratch / f"{data}-{family}"
            code = MODELCYCLE.format(
                train=str(train),
                test=str(test),
                family=family,
                params=params,
                out=str(out),
                threads=ctx.threads,
                prune=PRUNE if family == "fasttext" else None,
            )
            table: Any = measure(code, threads=ctx.threads)["table"]
            rows = {r["precision"]: r for r in table["rows"]}
            figures[data][family] = {"rows": rows, "guardrail": table["guardrail"]["summary"]}
            _print(data, family, rows)
            int8 = rows["int8"]
            targets[f"{data} {family}: INT8 weights <= 30% of FP32"] = int8["weights_ratio"] <= 0.3
            targets[f"{data} {family}: INT8 within 1 point of FP32"] = (
                int8["accuracy_delta"] >= -0.01
            )
            targets[f"{data} {family}: INT8 agreement >= 98%"] = int8["agreement"] >= 0.98
            targets[f"{data} {family}: FP16 weights half of FP32"] = (
                0.45 <= rows["fp16"]["weights_ratio"] <= 0.55
            )
        pq = figures[data]["fasttext"]["rows"]["pq"]
        fp32 = figures[data]["fasttext"]["rows"]["fp32"]
        smaller = fp32["dir_size_bytes"] / pq["dir_size_bytes"]
        targets[f"{data} fasttext pruned + PQ: model directory >= 50x smaller"] = smaller >= 50
        targets[f"{data} fasttext pruned + PQ: within 1 point of FP32"] = (
            pq["accuracy_delta"] >= -0.01
        )
        figures[data]["fastText quantize"] = _fasttext_anchor(ctx, data, train, test)
        figures[data]["fasttext"]["pq_times_smaller"] = round(smaller, 1)
    return {
        "what": "train each family, then `quantize` (fp32/fp16/int8/int8-static, fasttext "
        f"pruned to {PRUNE:,} rows + PQ) measured on the test set; fastText's own quantize "
        "(cutoff, qnorm, retrain) on the same data",
        "blog": BLOG,
        "figures": figures,
        "summary": _summary(figures),
        "targets": targets,
    }


def _fasttext_anchor(ctx: Context, data: str, train: Path, test: Path) -> dict[str, Any]:
    train_ft = _fasttext_file(train, ctx.scratch / f"{data}.train.txt")
    test_ft = _fasttext_file(test, ctx.scratch / f"{data}.test.txt")
    code = FASTTEXT.format(
        train=str(train_ft),
        test=str(test_ft),
        out=str(ctx.scratch / f"{data}-fasttext"),
        threads=ctx.threads,
        prune=PRUNE,
    )
    m = measure(code, threads=ctx.threads)
    anchor = {
        "fp32_bytes": m["fp32_bytes"],
        "fp32_accuracy": round(m["fp32_accuracy"], 4),
        "ftz_bytes": m["ftz_bytes"],
        "ftz_accuracy": round(m["ftz_accuracy"], 4),
        "times_smaller": round(m["fp32_bytes"] / m["ftz_bytes"], 1),
        "seconds": round(m["seconds"], 1),
    }
    print(
        f"   {data:5} fastText quantize: {m['fp32_bytes'] / 2**20:.1f} MB -> "
        f"{m['ftz_bytes'] / 2**20:.2f} MB, accuracy {m['fp32_accuracy']:.4f} -> "
        f"{m['ftz_accuracy']:.4f}",
        flush=True,
    )
    return anchor


def _print(data: str, family: str, rows: dict[str, dict[str, Any]]) -> None:
    for name, r in rows.items():
        print(
            f"   {data:5} {family:8} {name:11} {r['size_bytes'] / 2**20:8.2f} MB "
            f"({r['weights_ratio']:6.1%} weights, dir {r['dir_size_bytes'] / 2**20:7.2f} MB)  "
            f"p50 {r['latency_ms_p50']:6.3f} ms (graph {r['model_latency_ms_p50']:.4f})  "
            f"{r['throughput_per_s']:8,.0f}/s  acc {r['accuracy']:.4f} "
            f"({100 * r['accuracy_delta']:+.2f})  agree {r['agreement']:.2%}",
            flush=True,
        )


def _summary(figures: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for data, families in figures.items():
        for family, entry in families.items():
            if "rows" not in entry:
                summary[f"{data} {family}"] = entry
                continue
            summary[f"{data} {family}"] = {
                name: (
                    f"{r['size_bytes'] / 2**20:.2f} MB ({r['weights_ratio']:.0%}), "
                    f"graph {r['model_speedup']:.2f}x, end to end {r['speedup']:.2f}x, "
                    f"acc {r['accuracy']:.4f} ({100 * r['accuracy_delta']:+.2f}), "
                    f"agree {r['agreement']:.1%}"
                )
                for name, r in entry["rows"].items()
            }
    return summary
