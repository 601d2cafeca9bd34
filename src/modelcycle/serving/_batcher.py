"""A dynamic micro-batcher: concurrent requests merged into one model call.

Written here rather than taken from a library because it is a few dozen lines of asyncio, and
what it must do is the product's own: merge whole requests (never split one), keep each
request's texts together, and never make a lone request wait when ``max_wait`` is 0.

Requests queue up while the model runs; when it is free, the next call takes every queued
request up to ``max_batch`` texts (and, with ``max_wait > 0``, waits that long for more). The
model runs on one dedicated thread, so the event loop keeps reading and answering requests
meanwhile, and a session is never shared between calls at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MicroBatcher", "ShuttingDown"]

log = logging.getLogger("modelcycle.serving")

Predict = Callable[[Sequence[str]], list[dict[str, Any]]]
OnBatch = Callable[[int, int, float], None]  # (texts, requests, seconds)


class ShuttingDown(RuntimeError):
    """A request submitted after :meth:`MicroBatcher.close` began."""


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future[list[dict[str, Any]]] = field(repr=False)


class MicroBatcher:
    """Merge concurrent ``submit`` calls into model calls of at most ``max_batch`` texts.

    Example (inside a running event loop)::

        batcher = MicroBatcher(model.predict, max_batch=32, max_wait_s=0.0)
        records = await batcher.submit(["I loved it"])
        await batcher.close()
    """

    def __init__(
        self,
        predict: Predict,
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.0,
        on_batch: OnBatch | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._held: _Pending | None = None  # a request that did not fit the last batch
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._busy = False  # a batch is being computed or answered

    async def submit(self, texts: list[str]) -> list[dict[str, Any]]:
        """The records of ``texts``, computed in a batch with whatever else is queued."""
        if self._closing:
            raise ShuttingDown("the batcher is shutting down")
        if self.max_batch == 1:  # batching off: the model runs at once, on the event loop
            start = time.perf_counter()
            records = self.predict(texts)
            if self.on_batch is not None:
                self.on_batch(len(texts), 1, time.perf_counter() - start)
            return records
        if self._worker is None:
            self._start()
        assert self._queue is not None
        pending = _Pending(texts, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        return await pending.future

    def _start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelcycle-model")
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def close(self) -> None:
        """Answer what is queued, then stop (requests in flight are never dropped)."""
        self._closing = True
        if self._worker is not None and self._queue is not None:
            while self._busy or self._held is not None or not self._queue.empty():
                await asyncio.sleep(0.001)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._worker = self._executor = self._queue = None

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect(loop)
            try:
                await self._answer(loop, batch)
            finally:
                self._busy = False

    async def _answer(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        texts = [text for pending in batch for text in pending.texts]
        start = time.perf_counter()
        try:
            records = await loop.run_in_executor(self._executor, self.predict, texts)
        except Exception:
            if len(batch) == 1:
                log.exception("model call failed")
                _fail(batch[0], "model call failed")
                return
            # one request's texts broke the merged call: answer each request on its own, so
            # that only the culprit fails
            await self._one_by_one(loop, batch)
            return
        if self.on_batch is not None:
            self.on_batch(len(texts), len(batch), time.perf_counter() - start)
        offset = 0
        for pending in batch:
            end = offset + len(pending.texts)
            if not pending.future.done():  # its client may have gone away
                pending.future.set_result(records[offset:end])
            offset = end

    async def _collect(self, loop: asyncio.AbstractEventLoop) -> list[_Pending]:
        """The next batch: the held request or the first queued one, then whatever fits."""
        assert self._queue is not None
        first = self._held if self._held is not None else await self._queue.get()
        self._held = None
        self._busy = True
        batch, size = [first], len(first.texts)
        deadline = loop.time() + self.max_wait_s
        while size < self.max_batch:
            try:
                pending = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if size + len(pending.texts) > self.max_batch:
                self._held = pending  # first in the next batch: requests are never split
                break
            batch.append(pending)
            size += len(pending.texts)
        return batch

    async def _one_by_one(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        for pending in batch:
            try:
                records = await loop.run_in_executor(self._executor, self.predict, pending.texts)
            except Exception:
                log.exception("model call failed")
                _fail(pending, "model call failed")
            else:
                if not pending.future.done():
                    pending.future.set_result(records)


def _fail(pending: _Pending, message: str) -> None:
    if not pending.future.done():
        pending.future.set_exception(RuntimeError(message))
