"""The micro-batcher: concurrent requests merged into one model call, answers unchanged."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from modelcycle.serving import MicroBatcher, ServedModel, ServeSettings, create_app
from tests.serving.conftest import serving

pytestmark = pytest.mark.anyio


class GatedModel:
    """A model whose first call waits for a gate, so that requests queue up behind it."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.fail_on = fail_on

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        if not self.calls:
            self.gate.wait(10)
        self.calls.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError("cannot predict this")
        return [{"label": text.upper()} for text in texts]


async def submit_behind_the_first(
    batcher: MicroBatcher, model: GatedModel, requests: list[list[str]]
) -> list[Any]:
    first = asyncio.ensure_future(batcher.submit(["first"]))
    while not model.gate.is_set() and batcher._busy is False:
        await asyncio.sleep(0.001)
    rest = [asyncio.ensure_future(batcher.submit(texts)) for texts in requests]
    await asyncio.sleep(0.01)  # every request is queued while the first call waits
    model.gate.set()
    answers = await asyncio.gather(first, *rest, return_exceptions=True)
    await batcher.close()
    return answers[1:]


async def test_queued_requests_are_merged_and_answered_in_order() -> None:
    model = GatedModel()
    batcher = MicroBatcher(model.predict, max_batch=32)
    requests = [[f"r{i}a", f"r{i}b"] for i in range(5)]
    answers = await submit_behind_the_first(batcher, model, requests)
    assert answers == [[{"label": t.upper()} for t in texts] for texts in requests]
    assert model.calls == [["first"], [t for texts in requests for t in texts]]


async def test_a_request_is_never_split_over_batches() -> None:
    model = GatedModel()
    batcher = MicroBatcher(model.predict, max_batch=4)
    requests = [["a", "b", "c"], ["d", "e"], ["f", "g"], ["h"]]
    answers = await submit_behind_the_first(batcher, model, requests)
    assert answers == [[{"label": t.upper()} for t in texts] for texts in requests]
    assert model.calls[1:] == [["a", "b", "c"], ["d", "e", "f", "g"], ["h"]]


async def test_only_the_request_that_breaks_a_merged_call_fails() -> None:
    model = GatedModel(fail_on="bad")
    batcher = MicroBatcher(model.predict, max_batch=32)
    answers = await submit_behind_the_first(batcher, model, [["good"], ["bad"], ["fine"]])
    assert answers[0] == [{"label": "GOOD"}]
    assert isinstance(answers[1], RuntimeError)
    assert answers[2] == [{"label": "FINE"}]


async def test_max_batch_one_runs_every_request_alone_at_once() -> None:
    model = GatedModel()
    model.gate.set()
    seen: list[tuple[int, int]] = []
    batcher = MicroBatcher(model.predict, max_batch=1, on_batch=lambda t, r, s: seen.append((t, r)))
    answers = await asyncio.gather(*(batcher.submit([t, t]) for t in "abc"))
    assert answers == [[{"label": t.upper()}] * 2 for t in "ABC"]
    assert model.calls == [["a", "a"], ["b", "b"], ["c", "c"]]
    assert seen == [(2, 1)] * 3
    assert batcher._worker is None  # no queue, no thread: the call runs on the event loop
    await batcher.close()


async def test_max_wait_collects_requests_arriving_later() -> None:
    model = GatedModel()
    model.gate.set()
    batcher = MicroBatcher(model.predict, max_batch=8, max_wait_s=0.2)
    first = asyncio.ensure_future(batcher.submit(["a"]))
    await asyncio.sleep(0.02)
    second = asyncio.ensure_future(batcher.submit(["b"]))
    assert await asyncio.gather(first, second) == [[{"label": "A"}], [{"label": "B"}]]
    await batcher.close()
    assert model.calls == [["a", "b"]]


async def test_close_answers_what_is_queued_then_refuses() -> None:
    model = GatedModel()
    batcher = MicroBatcher(model.predict, max_batch=2)
    pending = [asyncio.ensure_future(batcher.submit([t])) for t in "abcde"]
    await asyncio.sleep(0.01)
    closing = asyncio.ensure_future(batcher.close())
    await asyncio.sleep(0.01)
    model.gate.set()
    await closing
    assert [await p for p in pending] == [[{"label": t.upper()}] for t in "ABCDE"]
    with pytest.raises(RuntimeError, match="shutting down"):
        await batcher.submit(["late"])


async def test_concurrent_http_requests_merge_with_identical_answers(logreg_dir: Path) -> None:
    texts = [f"{word} film number {i}" for i, word in enumerate(["great", "awful", "dull"] * 8)]
    alone = ServedModel.load(logreg_dir)
    expected = [alone.predict([text])[0] for text in texts]
    app = create_app(logreg_dir, settings=ServeSettings(max_batch=64))
    model: ServedModel = app.state.model
    real_predict = model.classifier.predict_proba
    calls: list[int] = []
    gate = threading.Event()

    def slow_first(batch: list[str]) -> Any:
        calls.append(len(batch))
        if len(calls) == 1:
            gate.wait(10)  # the first request's call waits: the others queue up meanwhile
        return real_predict(batch)

    async with serving(app) as client:  # warmed up before the model is swapped
        model.classifier.predict_proba = slow_first  # type: ignore[method-assign]
        first = asyncio.ensure_future(client.post("/v1/predict", json={"texts": texts[:1]}))
        for _ in range(5000):  # until the first request's call has begun (it waits for the gate)
            if calls:
                break
            await asyncio.sleep(0.001)
        rest = [
            asyncio.ensure_future(client.post("/v1/predict", json={"texts": [text]}))
            for text in texts[1:]
        ]
        batcher: MicroBatcher = app.state.batcher
        for _ in range(1000):  # until every other request waits in the queue
            if batcher._queue is not None and batcher._queue.qsize() == len(rest):
                break
            await asyncio.sleep(0.01)
        gate.set()
        responses = await asyncio.gather(first, *rest)
        metrics = (await client.get("/metrics")).text
    answers = [r.json()["predictions"][0] for r in responses]
    assert [a["label"] for a in answers] == [e["label"] for e in expected]
    for answer, record in zip(answers, expected, strict=True):
        assert answer["scores"] == pytest.approx(record["scores"], abs=1e-6)
    assert calls == [1, len(texts) - 1]  # 23 requests answered by one model call
    assert 'modelcycle_batch_requests_bucket{le="16.0"} 1.0' in metrics
    assert 'modelcycle_batch_requests_bucket{le="32.0"} 2.0' in metrics
    assert f"modelcycle_batch_texts_sum {float(len(texts))}" in metrics
