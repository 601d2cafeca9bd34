"""transformer: all-MiniLM-L6-v2 on SST-2 — frozen encoder + head on the full train set, a
bounded CPU fine-tune on a subset, the FP32/FP16/INT8 ONNX table and the served INT8 latency."""

from __future__ import annotations

from typing import Any

from bench._harness import Context, measure

FINE_TUNE_ROWS = 10_000
"""Sentences of the CPU fine-tune (1 epoch, max_length 64): about 2 minutes on 2 cores;
the 0.88 target is met by the full train set on a GPU: `bench transformer_gpu`."""

FROZEN = """
import numpy as np
from modelcycle.data import load_dataset
from modelcycle.models import make_model, save_model
from modelcycle.engine.loop import RunOptions
train, dev = load_dataset({train!r}), load_dataset({dev!r})
tick()
model = make_model("transformer", {{"freeze": True, "epochs": 5, "batch_size": 64}}, seed=42)
model.fit(train.texts, train.labels, run=RunOptions(progress=False, threads={threads}))
tock()
result["accuracy"] = float((model.predict(dev.texts) == np.asarray(dev.labels)).mean())
result["rows"] = len(train)
result["history"] = model.history_
"""

FINE_TUNE = """
import time
import numpy as np
from modelcycle.data import load_dataset
from modelcycle.models import make_model, save_model
from modelcycle.engine.loop import RunOptions
train, dev = load_dataset({train!r}), load_dataset({dev!r})
rows = np.random.default_rng(42).permutation(len(train))[:{rows}]
texts, labels = [train.texts[i] for i in rows], [train.labels[i] for i in rows]
params = {{"epochs": 1, "max_length": 64, "batch_size": 32, "lr": 1e-4}}
tick()
model = make_model("transformer", params, seed=42)
model.fit(texts, labels, run=RunOptions(progress=False, threads={threads}))
tock()
result["accuracy"] = float((model.predict(dev.texts) == np.asarray(dev.labels)).mean())
result["history"] = model.history_
save_model(model, {out!r})
timings = []
for text in dev.texts[:100]:  # eager PyTorch, one sentence at a time: the anchor
    start = time.perf_counter()
    model.predict_proba([text])
    timings.append(time.perf_counter() - start)
result["eager_ms_p50"] = float(np.median(timings[5:]) * 1000)
"""

QUANTIZE = """
import time
import numpy as np
from modelcycle.config import QuantizeConfig
from modelcycle.data import load_dataset
from modelcycle.runtime import OnnxClassifier
from modelcycle.models import load_model
from modelcycle.quantization import quantize
train, dev = load_dataset({train!r}), load_dataset({dev!r})
model = load_model({model!r})
calibration = [train.texts[i] for i in np.random.default_rng(0).permutation(len(train))[:256]]
tick()
table = quantize(model, dev, {out!r}, QuantizeConfig(threads={threads}, calibrate=256),
                 calibration=calibration)
tock()
result["table"] = table.to_json()
served = OnnxClassifier.load({out!r} + "/int8", threads={threads})
timings = []
for text in dev.texts[:300]:
    start = time.perf_counter()
    served.predict_proba([text])
    timings.append(time.perf_counter() - start)
p50, p95 = np.percentile(np.asarray(timings[10:]) * 1000, [50, 95])
result["served_int8_ms"] = {{"p50": float(p50), "p95": float(p95)}}
# the graphs alone, batch 1, taking turns: INT8 against the fused FP32 graph (the fp32 row)
# and against the exported graph before ONNX Runtime's transformer fusions
import onnxruntime as ort
from modelcycle.export import TransformerNet
options = ort.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads = {threads}, 1
for key in ("session.intra_op.allow_spinning", "session.force_spinning_stop"):
    options.add_session_config_entry(key, "1")  # as OnnxClassifier sets a transformer's
plain = TransformerNet(model.get_state()).to_onnx().SerializeToString()
sessions = {{
    "fp32 unfused": ort.InferenceSession(plain, options, providers=["CPUExecutionProvider"]),
    "fp32": OnnxClassifier.load({out!r} + "/fp32", threads={threads})._session,
    "int8": served._session,
}}
feeds = [served.inputs([text]) for text in dev.texts[:300]]
graph = {{name: [] for name in sessions}}
for first in range(0, len(feeds), 20):  # turns of 20 texts, as quantize takes them
    for name, session in sessions.items():
        session.run(None, feeds[first])
        for feed in feeds[first : first + 20]:
            start = time.perf_counter()
            session.run(None, feed)
            graph[name].append(time.perf_counter() - start)
result["graph_ms_p50"] = {{k: float(np.median(v) * 1000) for k, v in graph.items()}}
"""


def run(ctx: Context) -> dict[str, Any]:
    train, dev = ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")
    common = {"train": str(train), "dev": str(dev), "threads": ctx.threads}
    frozen = measure(FROZEN.format(**common), threads=ctx.threads)
    print(
        f"   frozen MiniLM + head, {frozen['rows']:,} sentences: dev accuracy "
        f"{frozen['accuracy']:.4f} ({frozen['seconds']:.0f} s, embeddings computed once)",
        flush=True,
    )
    tuned_dir = ctx.scratch / "fine-tuned"
    tuned = measure(
        FINE_TUNE.format(**common, rows=FINE_TUNE_ROWS, out=str(tuned_dir)), threads=ctx.threads
    )
    print(
        f"   fine-tuned MiniLM, {FINE_TUNE_ROWS:,} sentences, 1 epoch, max_length 64: dev "
        f"accuracy {tuned['accuracy']:.4f} ({tuned['seconds']:.0f} s); eager PyTorch "
        f"p50 {tuned['eager_ms_p50']:.2f} ms per sentence",
        flush=True,
    )
    quantized = measure(
        QUANTIZE.format(**common, model=str(tuned_dir), out=str(ctx.scratch / "quantized")),
        threads=ctx.threads,
    )
    table: Any = quantized["table"]
    rows = {r["precision"]: r for r in table["rows"]}
    for name, r in rows.items():
        print(
            f"   {name:11} {r['size_bytes'] / 2**20:7.2f} MB ({r['size_ratio']:6.1%})  "
            f"graph p50 {r['model_latency_ms_p50']:6.3f} ms ({r['model_speedup']:.2f}x)  "
            f"end to end p50 {r['latency_ms_p50']:6.3f} ms ({r['speedup']:.2f}x)  "
            f"acc {r['accuracy']:.4f} ({100 * r['accuracy_delta']:+.2f})  "
            f"agree {r['agreement']:.2%}",
            flush=True,
        )
    served: Any = quantized["served_int8_ms"]
    graph: Any = quantized["graph_ms_p50"]
    print(
        "   graphs alone, batch 1: "
        + ", ".join(f"{name} p50 {ms:.2f} ms" for name, ms in graph.items())
        + f"; INT8 is {graph['fp32 unfused'] / graph['int8']:.2f}x the unfused FP32 graph",
        flush=True,
    )
    print(
        f"   served INT8 (OnnxClassifier, one text): p50 {served['p50']:.2f} ms, "
        f"p95 {served['p95']:.2f} ms",
        flush=True,
    )
    int8 = rows["int8"]
    targets = {
        "frozen encoder + head: SST-2 dev accuracy >= 0.82": frozen["accuracy"] >= 0.82,
        "INT8 >= 2.5x faster than FP32 ONNX (graph, batch 1)": int8["model_speedup"] >= 2.5,
        "INT8 <= 30% of FP32's size": int8["size_ratio"] <= 0.30,
        "INT8 within 1 point of FP32": int8["accuracy_delta"] >= -0.01,
        "INT8 agreement >= 98%": int8["agreement"] >= 0.98,
    }
    return {
        "what": "all-MiniLM-L6-v2 on SST-2: frozen encoder (last four layers pooled) + linear "
        "head on the full train set; "
        f"full fine-tune on {FINE_TUNE_ROWS:,} train sentences (1 epoch, max_length 64, AdamW "
        "1e-4); `quantize` of the fine-tuned model on the dev set (2 threads, batch 1)",
        "frozen": {k: frozen[k] for k in ("accuracy", "rows", "seconds", "history")},
        "fine_tune": {
            "rows": FINE_TUNE_ROWS,
            **{k: tuned[k] for k in ("accuracy", "seconds", "eager_ms_p50", "history")},
        },
        "quantization": {"rows": rows, "guardrail": table["guardrail"]["summary"]},
        "served_int8_ms": served,
        "graph_ms_p50": graph,
        "summary": {
            "frozen dev accuracy": round(frozen["accuracy"], 4),
            "fine-tuned dev accuracy": round(tuned["accuracy"], 4),
            **{
                name: (
                    f"{r['size_bytes'] / 2**20:.1f} MB ({r['size_ratio']:.0%}), graph p50 "
                    f"{r['model_latency_ms_p50']:.2f} ms ({r['model_speedup']:.2f}x), acc "
                    f"{r['accuracy']:.4f} ({100 * r['accuracy_delta']:+.2f}), agree "
                    f"{r['agreement']:.1%}"
                )
                for name, r in rows.items()
            },
            "served int8 p50/p95 ms": f"{served['p50']:.2f} / {served['p95']:.2f}",
            "graph p50 ms (batch 1, taking turns)": {k: round(v, 3) for k, v in graph.items()},
        },
        "targets": targets,
    }
