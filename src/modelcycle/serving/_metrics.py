"""Prometheus metrics of a server, with ``prometheus_client`` (the Prometheus project's own client).

One registry per app, so that several apps in one process (tests) never share counters. With
several worker processes (``--workers N``) ``modelcycle serve`` sets ``PROMETHEUS_MULTIPROC_DIR``
and every worker's ``/metrics`` adds up all workers' figures (prometheus_client's multiprocess
mode).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

disable_created_metrics()  # the ``*_created`` series double the output and serve no query here

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """The server's metrics: requests, latency, texts, batch sizes, errors and the model."""

    def __init__(self, model: dict[str, Any]) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        # every metric in this app's registry, never prometheus_client's global one
        counter = functools.partial(Counter, registry=self.registry)
        histogram = functools.partial(Histogram, registry=self.registry)
        gauge = functools.partial(Gauge, registry=self.registry)
        self.requests = counter(
            "modelcycle_requests",
            "HTTP requests answered, by path, method and status code.",
            ["path", "method", "status"],
        )
        self.latency = histogram(
            "modelcycle_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by path.",
            ["path"],
            buckets=LATENCY_BUCKETS,
        )
        self.errors = counter(
            "modelcycle_errors",
            "Error answers, by error code (the code of the JSON error body).",
            ["code"],
        )
        self.texts = counter("modelcycle_texts", "Texts predicted.")
        self.batch_texts = histogram(
            "modelcycle_batch_texts",
            "Texts per model call (the micro-batcher merges concurrent requests).",
            buckets=BATCH_BUCKETS,
        )
        self.batch_requests = histogram(
            "modelcycle_batch_requests",
            "Requests merged into one model call.",
            buckets=BATCH_BUCKETS,
        )
        self.inference = histogram(
            "modelcycle_inference_duration_seconds",
            "Time of one model call: preprocessing, ONNX Runtime and post-processing.",
            buckets=LATENCY_BUCKETS,
        )
        self.ready = gauge(
            "modelcycle_ready",
            "1 once the model is loaded and warmed up.",
            multiprocess_mode="livemin",
        )
        self.model_info = gauge(
            "modelcycle_model_info",
            "The model being served (always 1; its identity is in the labels).",
            ["name", "version", "precision", "source_family"],
            multiprocess_mode="livemax",
        )
        self.model_info.labels(
            name=model["name"],
            version=model["version"],
            precision=model["precision"],
            source_family=str(model.get("source_family")),
        ).set(1)

    def observe_batch(self, texts: int, requests: int, seconds: float) -> None:
        """One model call of ``texts`` texts from ``requests`` requests."""
        self.texts.inc(texts)
        self.batch_texts.observe(texts)
        self.batch_requests.observe(requests)
        self.inference.observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (of every worker, in multiprocess mode)."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
