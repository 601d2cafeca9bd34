"""How fast each variant runs: one text end to end, the graph alone, and batch throughput, on
the machine the table names."""

from __future__ import annotations

import time

import numpy as np

from modelcycle._hardware import cpu
from modelcycle.config import QuantizeConfig
from modelcycle.runtime import OnnxClassifier

__all__ = ["TURN_TEXTS", "device", "graph_ms", "time_variants"]

TURN_TEXTS = 20
"""Texts each variant runs in a row when the variants take turns: a server runs one model over
and over, with its weights in the CPU's caches; turns of one text would have each variant evict
the others' (MiniLM: INT8's 22 MB of weights fit where FP32's 86 MB do not)."""


def graph_ms(classifier: OnnxClassifier, texts: list[str]) -> float:
    """Median milliseconds of the graph alone on one text at a time."""
    feeds = [classifier.inputs([t]) for t in texts] or [classifier.inputs([""])]
    classifier.run(feeds[0])
    timings = []
    for feed in feeds:
        start = time.perf_counter()
        classifier.run(feed)
        timings.append(time.perf_counter() - start)
    return float(np.median(timings) * 1000)


def time_variants(
    classifiers: dict[str, OnnxClassifier],
    shuffled: list[str],
    texts: list[str],
    config: QuantizeConfig,
) -> dict[str, dict[str, float]]:
    """Latency of one text (end to end and graph alone) and batch throughput. The variants
    take turns, ``TURN_TEXTS`` texts each, so that a noisy neighbour slows them all alike."""
    sample = shuffled[: config.latency_texts] or [""]
    total: dict[str, list[float]] = {name: [] for name in classifiers}
    graph: dict[str, list[float]] = {name: [] for name in classifiers}
    feeds = {name: [c.inputs([text]) for text in sample] for name, c in classifiers.items()}
    for first in range(0, len(sample), TURN_TEXTS):
        turn = range(first, min(first + TURN_TEXTS, len(sample)))
        for name, classifier in classifiers.items():
            classifier.run(feeds[name][first])  # untimed: brings its weights back into cache
            for i in turn:
                start = time.perf_counter()
                classifier.predict_proba([sample[i]])
                total[name].append(time.perf_counter() - start)
            for i in turn:  # the graph alone, on prepared inputs
                start = time.perf_counter()
                classifier.run(feeds[name][i])
                graph[name].append(time.perf_counter() - start)
    batches = [
        texts[i : i + config.batch_size]
        for i in range(0, min(len(texts), config.throughput_texts), config.batch_size)
    ]
    seconds = dict.fromkeys(classifiers, 0.0)
    for batch in batches:
        for name, classifier in classifiers.items():
            start = time.perf_counter()
            classifier.predict_proba(batch)
            seconds[name] += time.perf_counter() - start
    done = sum(len(b) for b in batches)
    result = {}
    for name in classifiers:
        p50, p95 = np.percentile(np.asarray(total[name]) * 1000, [50, 95])
        result[name] = {
            "latency_ms_p50": round(float(p50), 4),
            "latency_ms_p95": round(float(p95), 4),
            "model_latency_ms_p50": round(float(np.median(graph[name]) * 1000), 5),
            "throughput_per_s": round(done / max(seconds[name], 1e-9), 1),
        }
    return result


def device() -> str:
    """The CPU and the ONNX Runtime version the table was measured with."""
    import onnxruntime  # deferred: slow to import

    return f"{cpu()}, ONNX Runtime {onnxruntime.__version__} (CPUExecutionProvider)"
