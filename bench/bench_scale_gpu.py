"""scale_gpu: on the CUDA GPUs here, under torchrun (one process per GPU): fasttext trained
streamed on IMDB repeated to MODELCYCLE_BENCH_GPU_MB (default 1024) MB, and the transformer
fine-tuned on SST-2's first MODELCYCLE_BENCH_GPU_SENTENCES (default 20,000) sentences; reports
examples/s of each (sized to a few minutes on one H100). Skipped without a GPU, unless
BENCH_GPU_SMOKE=1, which runs it on the CPU at a small size (a smoke test of the script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness import Context, Skip
from bench.bench_scale import SHARD_MB, build


def _torchrun(args: list[str], processes: int, out: Path, threads: int) -> dict[str, Any]:
    """``modelcycle ARGS -o OUT`` under torchrun; the wall time and the model's history."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={processes}", "-m", "modelcycle", *args, "-o", str(out), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    history = json.loads((out / "history.json").read_text())
    # each epoch's examples/s is rank 0's: every process trains as many
    per_s = [h["examples_per_s"] * processes for h in history]
    return {"seconds": round(seconds, 1), "examples_per_s": round(max(per_s)), "history": history}


def run(ctx: Context) -> dict[str, Any]:
    import torch

    smoke = os.environ.get("BENCH_GPU_SMOKE") == "1"
    if not torch.cuda.is_available() and not smoke:
        raise Skip("no CUDA GPU here (BENCH_GPU_SMOKE=1 runs it on the CPU, tiny)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    processes = torch.cuda.device_count() if device == "cuda" else 2
    # smoke: two copies of IMDB (50,000 rows), a shard each, so that each process has its own
    size_mb = int(os.environ.get("MODELCYCLE_BENCH_GPU_MB", "64" if smoke else "1024"))
    sentences = int(os.environ.get("MODELCYCLE_BENCH_GPU_SENTENCES", "64" if smoke else "20000"))
    imdb, sst2 = ctx.dataset("imdb/train.csv.gz"), ctx.dataset("sst2/train.csv")
    _, shards, rows = build(imdb, ctx.scratch / "imdb", size_mb, 1 if smoke else SHARD_MB)
    common = ["--device", device, "--epochs", "1", "--seed", "0"]
    fasttext = _torchrun(
        ["train", str(shards), "--model", "fasttext", "--stream", *common],
        processes,
        ctx.scratch / "fasttext",
        ctx.threads,
    )
    print(f"   fasttext streamed, {rows:,} rows: {fasttext['examples_per_s']:,} examples/s")
    subset = ctx.scratch / "sst2.csv"
    with sst2.open(encoding="utf-8") as source, subset.open("w", encoding="utf-8") as target:
        target.writelines(line for _, line in zip(range(sentences + 1), source, strict=False))
    transformer = _torchrun(
        ["train", str(subset), "--model", "transformer", *common],
        processes,
        ctx.scratch / "transformer",
        ctx.threads,
    )
    print(f"   transformer fine-tune: {transformer['examples_per_s']:,} examples/s")
    runs = {"fasttext streamed": fasttext, "transformer fine-tune": transformer}
    return {
        "what": "examples/s of the best epoch, all processes together (rank 0's x processes); "
        "seconds = the torchrun command's wall time, start-up and data building excluded",
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (smoke test)",
        "processes": processes,
        "fasttext_rows": rows,
        "transformer_sentences": sentences,
        "runs": runs,
        "summary": {name: r["examples_per_s"] for name, r in runs.items()},
    }
