"""Data loading: IMDB train (gzip CSV) and a 1 GB CSV, modelcycle against pandas."""

from __future__ import annotations

import gzip
import shutil
from typing import Any

from bench._harness import Context, measure

LOAD = """
from modelcycle.data import load_dataset
tick()
data = load_dataset({path!r})
tock()
result["rows"] = len(data)
"""

PANDAS = """
import pandas as pd
tick()
frame = pd.read_csv({path!r})
tock()
result["rows"] = len(frame)
"""


def run(ctx: Context) -> dict[str, Any]:
    imdb = ctx.dataset("imdb/train.csv.gz")
    big = ctx.scratch / "big.csv"
    with gzip.open(imdb, "rb") as src, big.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    body = big.read_bytes().split(b"\n", 1)[1]
    with big.open("ab") as dst:
        while big.stat().st_size < 1 << 30:
            dst.write(body)
    size_mb = big.stat().st_size / 2**20
    figures: dict[str, Any] = {"file_mb": round(size_mb)}
    for label, path in (("imdb_train_gz", imdb), ("csv_1gb", big)):
        for tool, code in (("modelcycle", LOAD), ("pandas", PANDAS)):
            m = measure(
                code.format(path=str(path)),
                threads=ctx.threads,
                repeat=3 if label == "imdb_train_gz" else 1,
            )
            figures[f"{label} {tool}"] = {
                "rows": m["rows"],
                "seconds": round(m["seconds"], 2),
                "peak_rss_mb": round(m["peak_rss_mb"]),
            }
            print(
                f"   {label:14} {tool:10} {m['rows']:>9,} rows {m['seconds']:6.2f} s  "
                f"peak {m['peak_rss_mb']:6.0f} MB"
            )
    big_peak = figures["csv_1gb modelcycle"]["peak_rss_mb"]
    return {
        "what": "wall time of loading, peak RSS of the whole process, fresh processes",
        "figures": figures,
        "summary": {
            "1 GB CSV: peak memory / file size": round(big_peak / size_mb, 2),
            "IMDB train: modelcycle s": figures["imdb_train_gz modelcycle"]["seconds"],
            "IMDB train: pandas s": figures["imdb_train_gz pandas"]["seconds"],
        },
        "targets": {"a 1 GB CSV loads in at most 4x its size in memory": big_peak <= 4 * size_mb},
    }
