"""EDA report: IMDB and SST-2 train against the blog's approach and ydata-profiling; a 1 GB CSV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bench._harness import ROOT, Context, measure, measure_in_turns

# Every approach is timed from its imports to its last output, in a fresh process.
MODELCYCLE = """
tick()
from modelcycle.data import load_dataset
from modelcycle.eda import profile
report = profile(load_dataset({path!r}))
report.write({out!r})
tock()
html = open({out!r} + "/eda.html", encoding="utf-8").read()
result["rows"] = report.data["rows"]
result["images"] = html.count("<img ")
result["html_mb"] = len(html) / 2**20
result["top_bigram"] = report.data["ngrams"]["2"][0]
"""

# The blog post's recipe: CountVectorizer(ngram_range=(n, n)) for n = 1..3, Counter over split
# words, describe() of the lengths and of the frame, and the label counts.
BLOG = """
tick()
from collections import Counter
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
df = pd.read_csv({path!r})
top = {{}}
for n in (1, 2, 3):
    vectorizer = CountVectorizer(ngram_range=(n, n))
    counts = vectorizer.fit_transform(df["text"]).sum(axis=0).A1
    names = vectorizer.get_feature_names_out()
    top[n] = [(names[i], int(counts[i])) for i in counts.argsort()[::-1][:30]]
most_common_words = Counter(" ".join(df["text"]).split()).most_common(10)
df["review_length"] = df["text"].apply(len)
lengths = df["review_length"].describe()
summary = df.describe(include="all")
labels = df["label"].value_counts()
tock()
result["rows"] = len(df)
result["top_bigram"] = list(top[2][0])
"""

YDATA = """
tick()
import pandas as pd
from ydata_profiling import ProfileReport
df = pd.read_csv({path!r})
ProfileReport(df, title="data", progress_bar=False).to_file({out!r} + "/ydata.html")
tock()
result["rows"] = len(df)
"""

# What the report pays before its first line of work: the interpreter and the libraries it reads
# and counts with (polars, pyarrow's CSV reader, numpy).
FLOOR = """
tick()
import numpy, polars, pyarrow.csv
tock()
"""

YDATA_VENV = ROOT / "bench" / ".venv-ydata"
YDATA_PINS = ROOT / "bench" / "ydata-requirements.txt"


def ydata_python() -> Path:
    """The interpreter of ydata-profiling's own virtual environment, made on first use: its pins
    (numpy<2.4, pandas<3, ...) cannot live beside the project's."""
    python = YDATA_VENV / "bin" / "python"
    stamp = YDATA_VENV / ".installed"
    if not stamp.is_file() or stamp.read_text() != YDATA_PINS.read_text():
        print("   installing ydata-profiling into bench/.venv-ydata (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(YDATA_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(YDATA_PINS),
            ],
            check=True,
        )
        stamp.write_text(YDATA_PINS.read_text())
    return python


def one_gigabyte_csv(imdb: Path, target: Path) -> float:
    """IMDB train repeated, each copy with its own ids, until the file holds 1 GiB; its MiB."""
    import polars as pl

    frame = pl.read_csv(imdb)
    with target.open("wb") as handle:
        copy = 0
        while target.stat().st_size < 1 << 30:
            ids = pl.int_range(copy * frame.height, (copy + 1) * frame.height, eager=True)
            frame.select(ids.alias("id"), pl.all()).write_csv(handle, include_header=copy == 0)
            handle.flush()
            copy += 1
    return target.stat().st_size / 2**20


def run(ctx: Context) -> dict[str, Any]:
    data = {"imdb": ctx.dataset("imdb/train.csv.gz"), "sst2": ctx.dataset("sst2/train.csv")}
    python = ydata_python()
    out = ctx.scratch / "out"
    out.mkdir()
    figures: dict[str, dict[str, Any]] = {}
    approaches = {
        "modelcycle eda (JSON + HTML, every plot)": (MODELCYCLE, None),
        "blog: pandas + CountVectorizer(n,n) n=1..3 + Counter + describe": (BLOG, None),
        "ydata-profiling 4.18 ProfileReport to HTML": (YDATA, python),
    }
    for name, path in data.items():
        codes = {
            approach: (code.format(path=str(path), out=str(out)), interpreter)
            for approach, (code, interpreter) in approaches.items()
        }
        # in turns, so that the machine's drift slows all alike; the short SST-2 runs, 5 times
        measured = measure_in_turns(codes, threads=ctx.threads, repeat=5 if name == "sst2" else 3)
        for approach, m in measured.items():
            figures.setdefault(name, {})[approach] = {
                "seconds": round(m["seconds"], 2),
                "peak_rss_mb": round(m["peak_rss_mb"]),
                "seconds_per_run": [round(r["seconds"], 2) for r in m["per_run"]],
                **{k: m[k] for k in ("images", "top_bigram") if k in m},
            }
            print(
                f"   {name:5} {approach[:48]:48} {m['seconds']:7.2f} s  "
                f"peak {m['peak_rss_mb']:6.0f} MB",
                flush=True,
            )
    floor = measure(FLOOR, threads=ctx.threads, repeat=3)
    figures["imports_only"] = {"seconds": round(floor["seconds"], 2)}
    print(f"   imports of polars, pyarrow, numpy alone: {floor['seconds']:.2f} s")
    big = ctx.scratch / "big.csv"
    size_mb = one_gigabyte_csv(data["imdb"], big)
    m = measure(MODELCYCLE.format(path=str(big), out=str(out)), threads=ctx.threads)
    figures["csv_1gb"] = {
        "modelcycle eda (JSON + HTML, every plot)": {
            "file_mb": round(size_mb),
            "rows": m["rows"],
            "seconds": round(m["seconds"], 2),
            "peak_rss_mb": round(m["peak_rss_mb"]),
        }
    }
    print(f"   1 GB  {m['rows']:,} rows  {m['seconds']:7.2f} s  peak {m['peak_rss_mb']:6.0f} MB")
    ours, blog, ydata = (
        "modelcycle eda (JSON + HTML, every plot)",
        "blog: pandas + CountVectorizer(n,n) n=1..3 + Counter + describe",
        "ydata-profiling 4.18 ProfileReport to HTML",
    )
    imdb, sst2 = figures["imdb"], figures["sst2"]
    speedup = {
        k: round(v[blog]["seconds"] / v[ours]["seconds"], 1)
        for k, v in (("imdb", imdb), ("sst2", sst2))
    }
    big_peak = figures["csv_1gb"][ours]["peak_rss_mb"]
    return {
        "what": "wall time from imports to the last file written, fresh processes taking turns, "
        "median of 3 (SST-2: of 5); peak RSS of the process",
        "figures": figures,
        "summary": {
            "IMDB train: modelcycle s / blog s / ydata-profiling s": [
                imdb[ours]["seconds"],
                imdb[blog]["seconds"],
                imdb[ydata]["seconds"],
            ],
            "IMDB train: speed-up over the blog approach": speedup["imdb"],
            "IMDB train: modelcycle peak MB": imdb[ours]["peak_rss_mb"],
            "SST-2 train: modelcycle s / blog s / ydata-profiling s": [
                sst2[ours]["seconds"],
                sst2[blog]["seconds"],
                sst2[ydata]["seconds"],
            ],
            "SST-2 train: speed-up over the blog approach": speedup["sst2"],
            "SST-2 train: 5x the blog's speed leaves s / the imports alone take s": [
                round(sst2[blog]["seconds"] / 5, 2),
                figures["imports_only"]["seconds"],
            ],
            "1 GB CSV: modelcycle s, peak MB": [figures["csv_1gb"][ours]["seconds"], big_peak],
        },
        "targets": {
            "IMDB train: at least 10x faster than the blog approach": speedup["imdb"] >= 10,
            "IMDB train: faster than ydata-profiling": imdb[ours]["seconds"]
            < imdb[ydata]["seconds"],
            "IMDB train: peak memory under 1.5 GB": imdb[ours]["peak_rss_mb"] < 1536,
            "SST-2 train: at least 5x faster than the blog approach": speedup["sst2"] >= 5,
            "1 GB CSV: completes with peak memory under 4 GB": big_peak < 4096,
        },
    }
