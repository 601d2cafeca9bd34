"""serving: `modelcycle serve` under load (8 clients, 20,000 single-text requests) for an exported
logreg and fasttext model trained on SST-2; the server's overhead over the model's own latency;
and `modelcycle predict` over IMDB test against the raw model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench._harness import Context, measure
from bench._load import run_load

FAMILIES: dict[str, dict[str, Any]] = {
    "logreg": {},
    "fasttext": {"dim": 10, "ngrams": 2, "buckets": 2_000_000, "epochs": 5},  # adagrad
}
CLIENTS, REQUESTS, RATE = 8, 20_000, 1000.0
TARGETS = {"p50_ms": 3.0, "p99_ms": 10.0, "requests_per_s": 1000.0}

TRAIN_EXPORT = """
from modelcycle.config import TrainConfig
from modelcycle.data import load_dataset
from modelcycle.export import export_model
from modelcycle.training import train
tick()
model = train(load_dataset({train!r}), TrainConfig(model={family!r}, params={params!r}, seed=42),
              progress=False).model
tock()
export_model(model, {out!r})
"""

MODEL_LATENCY = """
import json, time
import numpy as np
from modelcycle.serving import ServedModel
model = ServedModel.load({model!r})
model.warm_up()
texts = json.load(open({texts!r}))
times = []
for _ in range(5):
    for text in texts:
        start = time.perf_counter()
        model.predict([text])
        times.append(time.perf_counter() - start)
tick(); tock()
result["p50_ms"] = float(np.percentile(times, 50) * 1000)
result["p99_ms"] = float(np.percentile(times, 99) * 1000)
"""

PREDICT_FILE = """
from modelcycle.prediction import predict_file
tick()
report = predict_file({model!r}, {data!r}, {out!r}, threads={threads}, progress=False)
tock()
result["rows"] = report.predicted
"""

RAW_MODEL = """
from modelcycle.data import load_dataset
from modelcycle.models import load_model
from modelcycle.prediction import predict
tick()
model = load_model({model!r})
texts = load_dataset({data!r}).texts
for start in range(0, len(texts), 4096):
    predict(model, texts[start:start + 4096])
tock()
result["rows"] = len(texts)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(model_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "modelcycle", "serve", str(model_dir), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--no-access-log", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server was not ready within 120 s")


def _stop(server: subprocess.Popen[bytes]) -> int:
    server.send_signal(signal.SIGTERM)
    return server.wait(60)


def _load_runs(model_dir: Path, texts: list[str], extra: tuple[str, ...]) -> dict[str, Any]:
    port = _free_port()
    server = _serve(model_dir, port, *extra)
    try:
        # warm: the server warms its model itself; this warms the connections and the loop
        run_load("127.0.0.1", port, texts, clients=CLIENTS, requests=2_000, processes=2)
        closed = run_load("127.0.0.1", port, texts, clients=CLIENTS, requests=REQUESTS, processes=2)
        paced = run_load(
            "127.0.0.1", port, texts, clients=CLIENTS, requests=REQUESTS, rate=RATE, processes=2
        )
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        code = _stop(server)
    batches = _histogram_mean(metrics, "modelcycle_batch_requests")
    return {
        "closed_loop": closed,
        f"paced_{int(RATE)}_rps": paced,
        "mean_requests_per_model_call": batches,
        "exit_code_after_sigterm": code,
    }


def _histogram_mean(metrics: str, name: str) -> float | None:
    values = {}
    for line in metrics.splitlines():
        for suffix in ("_sum", "_count"):
            if line.startswith(name + suffix + " "):
                values[suffix] = float(line.split()[1])
    if not values.get("_count"):
        return None
    return round(values["_sum"] / values["_count"], 2)


def run(ctx: Context) -> dict[str, Any]:
    import polars as pl

    sst2_train, sst2_dev = ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")
    imdb_train, imdb_test = ctx.dataset("imdb/train.csv.gz"), ctx.dataset("imdb/test.csv.gz")
    texts_file = ctx.scratch / "texts.json"
    texts = pl.read_csv(sst2_dev)["text"].to_list()
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    figures: dict[str, Any] = {"clients": CLIENTS, "requests": REQUESTS, "servers": {}}
    targets: dict[str, bool] = {}
    for family, params in FAMILIES.items():
        model_dir = ctx.scratch / f"sst2-{family}-onnx"
        trained = measure(
            TRAIN_EXPORT.format(
                train=str(sst2_train), family=family, params=params, out=str(model_dir)
            ),
            threads=ctx.threads,
        )
        model = measure(
            MODEL_LATENCY.format(model=str(model_dir), texts=str(texts_file)), threads=1
        )
        configs = {"default": (), "max_batch_1": ("--max-batch", "1")}
        runs = {name: _load_runs(model_dir, texts, extra) for name, extra in configs.items()}
        closed = runs["default"]["closed_loop"]
        entry = {
            "train_seconds": round(trained["seconds"], 1),
            "model_single_text_p50_ms": round(model["p50_ms"], 3),
            "model_single_text_p99_ms": round(model["p99_ms"], 3),
            "server_overhead_p50_ms": round(closed["p50_ms"] - model["p50_ms"], 3),
            "server_overhead_p50_ms_paced": round(
                runs["default"][f"paced_{int(RATE)}_rps"]["p50_ms"] - model["p50_ms"], 3
            ),
            **runs,
        }
        figures["servers"][family] = entry
        for name, run_figures in runs.items():
            for kind in ("closed_loop", f"paced_{int(RATE)}_rps"):
                f = run_figures[kind]
                print(
                    f"   {family:8} {name:12} {kind:16} {f['requests_per_s']:7.0f} req/s  "
                    f"p50 {f['p50_ms']:.2f}  p95 {f['p95_ms']:.2f}  p99 {f['p99_ms']:.2f} ms  "
                    f"errors {f['errors']}"
                )
        print(
            f"   {family:8} model alone p50 {model['p50_ms']:.3f} ms; server overhead p50 "
            f"{entry['server_overhead_p50_ms']:.3f} ms (closed loop), "
            f"{entry['server_overhead_p50_ms_paced']:.3f} ms (paced)"
        )
        targets[
            f"{family}: p50 < 3 ms, p99 < 10 ms, >= 1000 req/s, 0 errors over {REQUESTS:,} "
            f"requests from {CLIENTS} clients"
        ] = (
            closed["p50_ms"] < TARGETS["p50_ms"]
            and closed["p99_ms"] < TARGETS["p99_ms"]
            and closed["requests_per_s"] >= TARGETS["requests_per_s"]
            and closed["errors"] == 0
            and closed["requests"] == REQUESTS
        )

    # batch prediction over IMDB test: predict_file (streaming, threads) against the raw model
    imdb_model = ctx.scratch / "imdb-logreg"
    measure(
        "from modelcycle.data import load_dataset\n"
        "from modelcycle.models import save_model\n"
        "from modelcycle.training import train\n"
        f"save_model(train(load_dataset({str(imdb_train)!r}), progress=False).model, "
        f"{str(imdb_model)!r})\ntick(); tock()\n",
        threads=ctx.threads,
    )
    batch: dict[str, Any] = {}
    for label, code in {
        "raw model (in memory, 1 thread)": RAW_MODEL.format(
            model=str(imdb_model), data=str(imdb_test)
        ),
        "modelcycle predict, 1 thread": PREDICT_FILE.format(
            model=str(imdb_model),
            data=str(imdb_test),
            out=str(ctx.scratch / "p1.parquet"),
            threads=1,
        ),
        f"modelcycle predict, {os.cpu_count()} threads": PREDICT_FILE.format(
            model=str(imdb_model),
            data=str(imdb_test),
            out=str(ctx.scratch / "pn.parquet"),
            threads=os.cpu_count() or 1,
        ),
    }.items():
        m = measure(code, threads=ctx.threads, repeat=3)
        batch[label] = {
            "rows": m["rows"],
            "seconds": round(m["seconds"], 2),
            "rows_per_s": round(m["rows"] / m["seconds"]),
            "peak_rss_mb": round(m["peak_rss_mb"]),
        }
        print(f"   imdb test  {label:40} {batch[label]['rows_per_s']:8,} rows/s")
    raw = batch["raw model (in memory, 1 thread)"]["rows_per_s"]
    for entry in batch.values():
        entry["vs_raw_model"] = round(entry["rows_per_s"] / raw, 2)
    figures["predict_imdb_test"] = batch
    figures["targets"] = targets
    figures["summary"] = {
        family: {
            "req_per_s": e["default"]["closed_loop"]["requests_per_s"],
            "p50_ms": e["default"]["closed_loop"]["p50_ms"],
            "p95_ms": e["default"]["closed_loop"]["p95_ms"],
            "p99_ms": e["default"]["closed_loop"]["p99_ms"],
            "errors": e["default"]["closed_loop"]["errors"],
            "overhead_p50_ms": e["server_overhead_p50_ms"],
        }
        for family, e in figures["servers"].items()
    } | {"predict_imdb_vs_raw": {k: v["vs_raw_model"] for k, v in batch.items()}}
    return figures
