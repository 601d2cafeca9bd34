"""What the CPU is, for the measured tables: its name and the instructions its INT8 kernels get.

INT8's speed-up depends on the CPU's integer dot-product instructions (VNNI, AMX). On MiniLM's
layers, ONNX Runtime's INT8 matrix products took 1.48 ms a sentence against FP32's 2.45 ms
(1.65x) on a host with AVX2 alone, and 2.75x faster on another of this project's hosts: a
speed-up in a table means little without them.
"""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path

# x86 dot-product extensions, best first, as /proc/cpuinfo names them
INT8_INSTRUCTIONS = (
    ("amx_int8", "AMX-INT8"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx2", "AVX2 (no VNNI)"),
)


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name and, on Linux x86 (from ``cpuinfo``), its best INT8 instruction
    set, e.g. ``"AMD EPYC, int8 on AVX-512 VNNI"``."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    best = next((label for flag, label in INT8_INSTRUCTIONS if flag in flags), None)
    return f"{name}, int8 on {best}" if best else name
