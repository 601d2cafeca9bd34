"""transformer_gpu: all-MiniLM-L6-v2 fine-tuned on the full SST-2 train set on a CUDA GPU (bf16
autocast, the family's defaults), then FP32/BF16/FP16 inference rows measured on that GPU.
Skipped on a machine without one."""

from __future__ import annotations

from typing import Any

from bench._harness import Context, Skip, measure

FINE_TUNE = """
import copy, time
import numpy as np
import torch
from modelcycle.data import load_dataset
from modelcycle.models import make_model
from modelcycle.engine.loop import RunOptions
train, dev = load_dataset({train!r}), load_dataset({dev!r})
labels = np.asarray(dev.labels)
tick()
model = make_model("transformer", {{}}, seed=42)  # defaults: AdamW 5e-5, 3 epochs, batch 32
model.fit(train.texts, train.labels, run=RunOptions(progress=False, device="cuda"))
tock()
result["history"] = model.history_
result["gpu"] = torch.cuda.get_device_name()
result["torch"] = torch.__version__
result["bf16_autocast"] = bool(torch.cuda.is_bf16_supported())
fp32 = model.module_.to("cuda").eval()
rows, reference = {{}}, None
for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
    model.module_ = copy.deepcopy(fp32).to(dtype)
    proba = model.predict_proba(dev.texts)
    reference = proba if reference is None else reference
    timings = []
    for text in dev.texts[:300]:  # one sentence at a time, tokenizing included
        start = time.perf_counter()
        model.predict_proba([text])
        timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(5):
        model.predict_proba(dev.texts)
    seconds = (time.perf_counter() - start) / 5
    p50, p95 = np.percentile(np.asarray(timings[20:]) * 1000, [50, 95])
    rows[name] = {{
        "weights_mb": sum(p.numel() * p.element_size() for p in model.module_.parameters()) / 2**20,
        "accuracy": float((model.classes_[proba.argmax(1)] == labels).mean()),
        "agreement": float((proba.argmax(1) == reference.argmax(1)).mean()),
        "latency_ms_p50": float(p50),
        "latency_ms_p95": float(p95),
        "texts_per_s": len(dev) / seconds,
    }}
result["rows"] = rows
result["train_rows"] = len(train)
"""


def run(ctx: Context) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        raise Skip("no CUDA GPU here (`bench transformer` is the CPU part)")
    train, dev = ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")
    tuned = measure(FINE_TUNE.format(train=str(train), dev=str(dev)), threads=ctx.threads)
    rows: Any = tuned["rows"]
    history: Any = tuned["history"]
    print(
        f"   {tuned['gpu']}, torch {tuned['torch']}: fine-tuned on {tuned['train_rows']:,} "
        f"sentences, {len(history)} epochs, bf16 autocast {tuned['bf16_autocast']}, "
        f"{tuned['seconds']:.0f} s; dev accuracy {rows['fp32']['accuracy']:.4f}",
        flush=True,
    )
    for name, r in rows.items():
        print(
            f"   {name}  weights {r['weights_mb']:6.1f} MB  acc {r['accuracy']:.4f}  "
            f"agree {r['agreement']:.2%}  one text p50 {r['latency_ms_p50']:.2f} ms "
            f"p95 {r['latency_ms_p95']:.2f} ms  dev set {r['texts_per_s']:,.0f} texts/s",
            flush=True,
        )
    fp32, fp16 = rows["fp32"], rows["fp16"]
    return {
        "what": "all-MiniLM-L6-v2 fine-tuned end to end on the full SST-2 train set on one CUDA "
        "GPU with the family's defaults (AdamW 5e-5, warmup 10% + linear decay, 3 epochs, batch "
        "32, bf16 autocast); the fine-tuned model run in FP32, BF16 and FP16 on the GPU over "
        "SST-2 dev (one text at a time, and the dev set in batches of 64; tokenizing included)",
        "gpu": tuned["gpu"],
        "torch": tuned["torch"],
        "fine_tune": {
            k: tuned[k]
            for k in ("seconds", "train_rows", "bf16_autocast", "history", "peak_rss_mb")
        },
        "rows": rows,
        "summary": {
            "gpu": tuned["gpu"],
            "fine-tune seconds": round(tuned["seconds"], 1),
            **{
                name: (
                    f"{r['weights_mb']:.1f} MB, acc {r['accuracy']:.4f}, agree "
                    f"{r['agreement']:.2%}, p50 {r['latency_ms_p50']:.2f} ms, "
                    f"{r['texts_per_s']:,.0f} texts/s"
                )
                for name, r in rows.items()
            },
        },
        "targets": {
            "full fine-tune on the GPU: SST-2 dev accuracy >= 0.88": fp32["accuracy"] >= 0.88,
            "FP16 within 0.5 point of FP32 on the GPU": (
                fp16["accuracy"] >= fp32["accuracy"] - 0.005
            ),
        },
    }
