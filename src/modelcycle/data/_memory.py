"""Bounded memory for streamed reading: freed memory handed back to the operating system.

Without this a streamed training's resident memory grew to about twice what it held: Arrow's
default allocator (mimalloc) keeps the pages of every freed block for reuse, each reader thread
its own, and glibc keeps freed chunks inside its heap. Measured on 800,000 IMDB rows
(``bench/bench_scale.py``'s shards, fastText, Intel Xeon, 2 cores): peak 2,052 MB as it was,
1,622 MB with the system allocator, these releases and smaller tokenising chunks, at the same
examples per second. Written here because neither library returns freed memory on its own
schedule: the calls are the libraries' own (``MemoryPool.release_unused``, glibc's
``malloc_trim``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable

import pyarrow as pa


def use_system_allocator() -> None:
    """Make Arrow allocate with the system allocator (whose freed pages
    :func:`release_freed_memory` can return), unless the user chose a pool with
    ``ARROW_DEFAULT_MEMORY_POOL``."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())


def release_freed_memory() -> None:
    """Return the memory that Arrow and the C allocator hold but no longer use."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)
