"""Streamed reading hands freed memory back to the operating system."""

from __future__ import annotations

import pyarrow as pa
import pytest

from modelcycle.data import release_freed_memory, use_system_allocator
from modelcycle.data._memory import _malloc_trim


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim (not glibc)")
def test_freed_heap_memory_is_returned():
    # 4 KB objects come from the C heap (not mmap); the last one stays alive at the heap's top,
    # so free() alone cannot shrink the heap and the freed 80 MB stay resident until trimmed
    chunks = [bytes(4096) for _ in range(20_000)]
    pinned = bytes(4096)
    del chunks
    before = _resident_mb()
    release_freed_memory()
    assert before - _resident_mb() > 40
    assert len(pinned) == 4096


@pytest.fixture
def arrow_pool():
    previous = pa.default_memory_pool()
    yield
    pa.set_memory_pool(previous)


def test_streaming_switches_arrow_to_the_system_allocator(arrow_pool, monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    use_system_allocator()
    assert pa.default_memory_pool().backend_name == "system"


def test_a_pool_the_user_chose_is_kept(arrow_pool, monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    use_system_allocator()
    assert pa.default_memory_pool().backend_name == "mimalloc"
