"""``make bench`` / ``python -m bench [NAME ...]``: run the benchmarks and write bench/results/.

Each benchmark prints its figures beside their anchors and whether its targets are met. Data
comes from ../shared/data (override with MODELCYCLE_BENCH_DATA); a benchmark whose data is
absent is skipped with the reason.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import tempfile
from pathlib import Path

from bench._harness import ROOT, Context, Skip, write_result


def main() -> int:
    names = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(ROOT / "bench")])
        if m.name.startswith("bench_")
    )
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(names)})"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads for every library (default 2)"
    )
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; valid benchmarks are: {', '.join(names)}")
    data_dir = Path(os.environ.get("MODELCYCLE_BENCH_DATA", ROOT.parent / "shared" / "data"))
    failed = False
    for name in args.names or names:
        module = importlib.import_module(f"bench.bench_{name}")
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as scratch:
            context = Context(data_dir=data_dir, scratch=Path(scratch), threads=args.threads)
            print(f"== {name}: {(module.__doc__ or '').strip()}", flush=True)
            try:
                figures = module.run(context)
            except Skip as skip:
                print(f"   skipped: {skip}")
                continue
        path = write_result(name, args.threads, figures)
        for target, met in figures.get("targets", {}).items():
            print(f"   target {'met' if met else 'MISSED'}: {target}")
            failed |= not met
        print(f"   wrote {path.relative_to(ROOT)}")
        print(json.dumps(figures.get("summary", {}), indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
