"""The benchmark harness: machine facts, timing in fresh processes, result files.

Each benchmark module ``bench/bench_*.py`` defines ``run(ctx) -> dict`` and measures its figures
*and* their anchors (the tools or approaches it is compared with) in the same run, on the same
machine, so that ratios are honest.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from modelcycle._hardware import cpu

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


class Skip(Exception):
    """Raised by a benchmark whose data is absent; the message says what is missing."""


@dataclass(frozen=True)
class Context:
    """What a benchmark needs: where the real datasets are and a scratch directory."""

    data_dir: Path
    scratch: Path
    threads: int

    def dataset(self, relative: str) -> Path:
        """A file under the shared data directory, or Skip with a clear message."""
        path = self.data_dir / relative
        if not path.is_file():
            raise Skip(
                f"{path} not found (the real datasets live in ../shared/data; see its README)"
            )
        return path


def machine() -> dict[str, Any]:
    """The facts that make a timing comparable."""
    packages = {}
    for name in ("modelcycle", "numpy", "polars", "pyarrow", "scikit-learn", "pandas"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
    }


def measure(
    code: str, *, threads: int, repeat: int = 1, python: str | Path | None = None
) -> dict[str, Any]:
    """Run ``code`` in fresh Python processes; median wall seconds of the part between
    ``tick()`` and ``tock()``, the process's peak RSS, and what the code put in ``result``
    (that run's; ``per_run`` holds every run's). Each process sees its run number in
    ``BENCH_RUN`` (e.g. as a seed). ``python`` is another interpreter to run it with (an
    anchor's own virtual environment)."""
    return _median([_run(code, threads, python, run) for run in range(repeat)])


def measure_in_turns(
    codes: Mapping[str, tuple[str, str | Path | None]], *, threads: int, repeat: int
) -> dict[str, dict[str, Any]]:
    """``measure`` for several (code, python) pairs by name, taking turns one process each, so
    that a machine whose speed drifts slows them alike and their ratios hold."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for run in range(repeat):
        for name, (code, python) in codes.items():
            runs[name].append(_run(code, threads, python, run))
    return {name: _median(each) for name, each in runs.items()}


def _run(code: str, threads: int, python: str | Path | None, run: int) -> dict[str, Any]:
    """One fresh process of ``code`` (see ``measure``): what it put in ``result``, timed."""
    prologue = textwrap.dedent(
        """
        import json, resource, time
        result = {}
        _t = [0.0, 0.0]
        def tick(): _t[0] = time.perf_counter()
        def tock(): _t[1] = time.perf_counter()
        """
    )
    epilogue = textwrap.dedent(
        """
        result["seconds"] = _t[1] - _t[0]
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("BENCH-RESULT " + json.dumps(result))
        """
    )
    script = prologue + textwrap.dedent(code) + epilogue
    env = {**os.environ, **{v: str(threads) for v in _THREAD_VARS}, "BENCH_RUN": str(run)}
    done = subprocess.run(
        [str(python or sys.executable), "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH-RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time, with ``runs`` (how many) and ``per_run`` (all of them)."""
    by_time = sorted(runs, key=lambda r: r["seconds"])
    median = dict(by_time[len(runs) // 2])
    median["runs"] = len(runs)
    median["per_run"] = runs
    return median


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS")


def write_result(name: str, threads: int, figures: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the machine, threads, date and figures."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "threads": threads,
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
