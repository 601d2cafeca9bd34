"""The CPU description in the measured tables names the INT8 instructions the CPU has."""

import platform
from pathlib import Path

import pytest

from modelcycle._hardware import cpu

CPUINFO = "processor\t: {n}\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 {flags}\n\n"


@pytest.mark.parametrize(
    ("flags", "described"),
    [
        ("avx2 avx512f avx512_vnni", "AMD EPYC 9R14, int8 on AVX-512 VNNI"),
        ("avx2 avx_vnni", "AMD EPYC 9R14, int8 on AVX-VNNI"),
        ("avx2", "AMD EPYC 9R14, int8 on AVX2 (no VNNI)"),
        ("sse4_2", "AMD EPYC 9R14"),
    ],
)
def test_the_best_int8_instructions_are_named(tmp_path: Path, flags: str, described: str) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO.format(n=0, flags=flags) + CPUINFO.format(n=1, flags=flags))
    assert cpu(info) == described


def test_without_cpuinfo_the_platform_names_the_cpu(tmp_path: Path) -> None:
    assert cpu(tmp_path / "absent") == (platform.processor() or platform.machine())
