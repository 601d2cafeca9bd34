"""ray: `modelcycle predict --engine ray` (Ray Data, one ONNX model per actor, on a Ray started by
the bench on the loopback interface and stopped at the end) against `--engine local --threads 2`,
over IMDB test repeated to MODELCYCLE_BENCH_RAY_COPIES copies (default 8: 200,000 rows, ids
varied) as Parquet; rows/s for both; the same ids and labels asserted, scores within float32
rounding."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import polars as pl

from bench._harness import Context, measure, measure_in_turns

COPIES_VARIABLE = "MODELCYCLE_BENCH_RAY_COPIES"
TARGET_RATIO = 0.8
SCORE_TOLERANCE = 1e-6
"""Largest score difference between the engines: float32 rounding, never a different label."""
ACTORS = 2

TRAIN_EXPORT = """
from modelcycle.data import load_dataset
from modelcycle.export import export_model
from modelcycle.training import train
tick()
export_model(train(load_dataset({train!r}), progress=False).model, {out!r})
tock()
"""

LOCAL = """
from modelcycle.prediction import predict_file
tick()
report = predict_file({model!r}, {data!r}, {out!r}, id_column="id", threads={actors},
                      progress=False)
tock()
result["rows"] = report.predicted
"""

RAY = """
import os, time
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
import ray
from modelcycle.prediction import predict_file
start = time.perf_counter()
ray.init(address="local", num_cpus={actors} + 1, include_dashboard=False, log_to_driver=False)
result["ray_start_s"] = time.perf_counter() - start
try:
    tick()
    report = predict_file({model!r}, {data!r}, {out!r}, id_column="id", threads={actors},
                          engine="ray", progress=False)
    tock()
finally:
    ray.shutdown()
result["rows"] = report.predicted
"""


def run(ctx: Context) -> dict[str, Any]:
    train, test = ctx.dataset("imdb/train.csv.gz"), ctx.dataset("imdb/test.csv.gz")
    copies = int(os.environ.get(COPIES_VARIABLE, "8"))
    data = ctx.scratch / "imdb-test-repeated.parquet"
    reviews = pl.read_csv(test).select("text")
    repeated = (
        pl.concat([reviews] * copies)
        .with_row_index("id")
        .with_columns(pl.format("review-{}", pl.col("id")).alias("id"))
    )
    repeated.write_parquet(data, row_group_size=16_384)
    model = ctx.scratch / "imdb-logreg-onnx"
    measure(TRAIN_EXPORT.format(train=str(train), out=str(model)), threads=ctx.threads)
    outs = {engine: ctx.scratch / f"{engine}.parquet" for engine in ("local", "ray")}
    runs = measure_in_turns(
        {
            engine: (
                code.format(model=str(model), data=str(data), out=str(outs[engine]), actors=ACTORS),
                None,
            )
            for engine, code in (("local", LOCAL), ("ray", RAY))
        },
        threads=ctx.threads,
        repeat=1,
    )
    score_diff = _compare(pl.read_parquet(outs["local"]), pl.read_parquet(outs["ray"]))
    figures: dict[str, Any] = {"rows": repeated.height, "copies": copies, "engines": {}}
    figures["max_score_difference"] = score_diff
    for engine, m in runs.items():
        figures["engines"][engine] = {
            "seconds": round(m["seconds"], 2),
            "rows_per_s": round(m["rows"] / m["seconds"]),
            "peak_rss_mb": round(m["peak_rss_mb"]),
        }
        print(f"   {engine:6} {figures['engines'][engine]['rows_per_s']:8,} rows/s")
    figures["ray_start_s"] = round(runs["ray"]["ray_start_s"], 2)
    local, ray = (figures["engines"][e]["rows_per_s"] for e in ("local", "ray"))
    figures["ray_vs_local"] = round(ray / local, 2)
    figures["targets"] = {
        f"Ray rows/s >= {TARGET_RATIO}x local --threads {ACTORS} (same labels)": (
            ray >= TARGET_RATIO * local
        )
    }
    figures["summary"] = {
        "rows": repeated.height,
        "local_rows_per_s": local,
        "ray_rows_per_s": ray,
        "ray_vs_local": figures["ray_vs_local"],
        "ray_start_s": figures["ray_start_s"],
    }
    return figures


def _compare(local: pl.DataFrame, on_ray: pl.DataFrame) -> float:
    """Assert the same rows, ids, texts and labels, and scores within float32 rounding (ONNX
    Runtime's sums depend on how many rows a call holds, and the engines batch differently);
    return the largest score difference."""
    assert local.columns == on_ray.columns, (local.columns, on_ray.columns)
    assert local.height == on_ray.height, (local.height, on_ray.height)
    for column in ("id", "text", "predicted"):
        assert local[column].equals(on_ray[column]), f"the engines differ in {column!r}"
    scores = [c for c in local.columns if c.startswith("score_")]
    difference = max(
        float(np.abs(local[c].to_numpy() - on_ray[c].to_numpy()).max()) for c in scores
    )
    assert difference <= SCORE_TOLERANCE, f"scores differ by up to {difference}"
    return difference
