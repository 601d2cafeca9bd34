"""data preparation: clean and split IMDB, the train+test leakage check, cleaning a 1 GB CSV in
bounded memory, and label issues on SST-2 train, each beside the approach it replaces."""

from __future__ import annotations

from typing import Any

from bench._harness import Context
from bench._harness import measure as _measure

CLEAN = """
from modelcycle.cleaning import clean_file
from modelcycle.config import CleanConfig
tick()
report = clean_file({data!r}, {out!r}, CleanConfig({config}))
tock()
s = report.summary
result.update(rows_in=s["rows_in"], rows_out=s["rows_out"], removed=s["removed"],
              detected=s["detected"], html=s["html"], changed=s["changed"])
"""

BR_LEFT = """
import polars as pl
result["br_left"] = int(pl.read_csv({out!r}).get_column("text").str.contains("<br").sum())
"""

BLOG_CLEAN = """
import pandas as pd
tick()
df = pd.read_csv({data!r})
df = df.drop_duplicates()
df = df.ffill()
df["text"] = df["text"].str.replace("<br />", " ", regex=False)
df.to_csv({out!r}, index=False)
tock()
result["rows_out"] = len(df)
"""

SPLIT = """
from modelcycle.config import SplitConfig
from modelcycle.data import load_dataset
from modelcycle.split import split_dataset
data = load_dataset({data!r})
tick()
parts = split_dataset(data, SplitConfig(test=0.2, val=0.1, seed=42))
tock()
result.update(parts.checks)
"""

SKLEARN_SPLIT = """
from modelcycle.data import load_dataset
from sklearn.model_selection import train_test_split
data = load_dataset({data!r})
tick()
import numpy as np
rows, labels = np.arange(len(data)), data.labels
rest, test = train_test_split(rows, test_size=0.2, random_state=42, stratify=labels)
train, val = train_test_split(rest, test_size=0.125, random_state=42, stratify=labels[rest])
parts = [data.take(np.sort(i)) for i in (train, val, test)]
tock()
"""

LEAKAGE = """
import polars as pl
from modelcycle.config import SplitConfig
from modelcycle.data import Dataset
from modelcycle.split import split_dataset
train = pl.read_csv({train!r}).with_columns(pl.lit("train").alias("origin"))
test = pl.read_csv({test!r}).with_columns(pl.lit("test").alias("origin"))
shared = set(train["text"]) & set(test["text"])
data = Dataset(pl.concat([train, test]), "text", "label", "imdb train+test")
tick()
parts = split_dataset(data, SplitConfig(test=0.5, val=0.0, seed=42, leakage_guard={guard}))
tock()
train_texts, test_texts = set(parts.train.texts), set(parts.test.texts)
result["shared_texts"] = len(shared)
result["shared_on_both_sides"] = len(shared & train_texts & test_texts)
result["straddling_normalized"] = parts.checks["straddling_texts"]
"""

LABEL_ISSUES = """
from modelcycle.cleaning import clean_file
from modelcycle.config import CleanConfig
tick()
report = clean_file({data!r}, {out!r}, CleanConfig(find_label_issues=True))
tock()
issues = report.summary["label_issues"]
result["rows"] = report.summary["rows_out"]
result["found"] = issues["found"]
import polars as pl
table = pl.read_csv({issues_file!r})
result["examples"] = table.head(12).to_dicts()
result["by_label"] = dict(table.group_by("label").len().iter_rows())
"""

CLEANLAB = """
import numpy as np
import polars as pl
from cleanlab.filter import find_label_issues
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from modelcycle.features import NgramFeaturizer
data = pl.read_csv({data!r})
texts, labels = data["text"].to_list(), data["label"].to_numpy()
classes, y = np.unique(labels, return_inverse=True)
tick()
_, X = NgramFeaturizer(ngram_range=(1, 2), min_df=2).fit_transform(texts)
cv = StratifiedKFold(5, shuffle=True, random_state=42)
probs = cross_val_predict(LogisticRegression(C=4.0, max_iter=1000), X, y, cv=cv,
                          method="predict_proba")
default = find_label_issues(y, probs, n_jobs=1)
tock()
result["found_prune_by_noise_rate"] = int(default.sum())
result["found_confident_learning"] = int(
    find_label_issues(y, probs, filter_by="confident_learning", n_jobs=1).sum())
"""

BIG_CSV = """
import polars as pl
source = pl.read_csv({imdb!r})
copies = []
for k in range({copies}):
    copies.append(source.with_columns(pl.col("text") + pl.lit(f" (copy {{k}})")))
pl.concat(copies).write_csv({big!r})
"""


def measure(code: str, *, threads: int, repeat: int = 1) -> dict[str, Any]:
    """The harness's measure, typed for the nested results these scripts return."""
    return dict(_measure(code, threads=threads, repeat=repeat))


def run(ctx: Context) -> dict[str, Any]:
    imdb_train = ctx.dataset("imdb/train.csv.gz")
    imdb_test = ctx.dataset("imdb/test.csv.gz")
    sst2 = ctx.dataset("sst2/train.csv")
    scratch = ctx.scratch
    figures: dict[str, Any] = {}

    cleaned = scratch / "c1" / "clean.csv"
    clean = measure(
        CLEAN.format(data=str(imdb_train), out=str(cleaned), config=""),
        threads=ctx.threads,
        repeat=3,
    )
    clean["br_left"] = measure(BR_LEFT.format(out=str(cleaned)), threads=ctx.threads)["br_left"]
    blog = measure(
        BLOG_CLEAN.format(data=str(imdb_train), out=str(scratch / "blog.csv")),
        threads=ctx.threads,
        repeat=3,
    )
    figures["clean_imdb_train"] = {
        "seconds": round(clean["seconds"], 2),
        "peak_rss_mb": round(clean["peak_rss_mb"]),
        "rows_in": clean["rows_in"],
        "rows_out": clean["rows_out"],
        "duplicates_detected": clean["detected"]["exact_duplicates"],
        "normalized_duplicates_detected": clean["detected"]["normalized_duplicates"],
        "removed": clean["removed"],
        "changed": clean["changed"],
        "html": clean["html"],
        "rows_with_br_after": clean["br_left"],
        "anchor_blog_pandas_seconds": round(blog["seconds"], 2),
        "anchor_blog_pandas_rows_out": blog["rows_out"],
    }
    print(
        f"   clean IMDB train: {clean['seconds']:.2f} s (blog pandas {blog['seconds']:.2f} s), "
        f"{clean['detected']['exact_duplicates']} duplicates detected, "
        f"<br /> rows {clean['html']['before']['rows_with_html']} -> {clean['br_left']}"
    )

    split = measure(SPLIT.format(data=str(imdb_train)), threads=ctx.threads, repeat=3)
    sklearn_split = measure(
        SKLEARN_SPLIT.format(data=str(imdb_train)), threads=ctx.threads, repeat=3
    )
    figures["split_imdb_train"] = {
        "seconds": round(split["seconds"], 3),
        "anchor_sklearn_train_test_split_seconds": round(sklearn_split["seconds"], 3),
        "checks": {k: split[k] for k in ("duplicate_texts", "duplicate_rows", "straddling_texts")},
    }
    print(
        f"   split IMDB train: {split['seconds']:.3f} s (sklearn {sklearn_split['seconds']:.3f} s)"
    )

    leakage = {}
    for guard in (True, False):
        code = LEAKAGE.format(train=str(imdb_train), test=str(imdb_test), guard=guard)
        m = measure(code, threads=ctx.threads)
        leakage["guard_on" if guard else "guard_off"] = {
            "seconds": round(m["seconds"], 3),
            "shared_texts": m["shared_texts"],
            "shared_on_both_sides": m["shared_on_both_sides"],
            "straddling_normalized_texts": m["straddling_normalized"],
        }
    figures["leakage_imdb_train_plus_test"] = leakage
    print(f"   leakage train+test: {leakage}")

    big = scratch / "big.csv"
    measure(BIG_CSV.format(imdb=str(imdb_train), copies=30, big=str(big)), threads=ctx.threads)
    size_mb = big.stat().st_size / 1e6
    big_clean = measure(
        CLEAN.format(data=str(big), out=str(scratch / "c2" / "clean.csv"), config=""),
        threads=ctx.threads,
    )
    big_blog = measure(
        BLOG_CLEAN.format(data=str(big), out=str(scratch / "blog_big.csv")), threads=ctx.threads
    )
    figures["clean_1gb_csv"] = {
        "input_mb": round(size_mb),
        "rows": big_clean["rows_in"],
        "seconds": round(big_clean["seconds"], 1),
        "peak_rss_mb": round(big_clean["peak_rss_mb"]),
        "anchor_blog_pandas_seconds": round(big_blog["seconds"], 1),
        "anchor_blog_pandas_peak_rss_mb": round(big_blog["peak_rss_mb"]),
    }
    print(f"   clean 1 GB CSV: {figures['clean_1gb_csv']}")
    big.unlink()

    issues_dir = scratch / "c3"
    found = measure(
        LABEL_ISSUES.format(
            data=str(sst2),
            out=str(issues_dir / "clean.csv"),
            issues_file=str(issues_dir / "clean.label_issues.csv"),
        ),
        threads=ctx.threads,
    )
    cleanlab = measure(CLEANLAB.format(data=str(sst2)), threads=ctx.threads)
    figures["label_issues_sst2_train"] = {
        "rows": found["rows"],
        "found": found["found"],
        "by_given_label": found["by_label"],
        "seconds": round(found["seconds"], 1),
        "examples": found["examples"],
        "anchor_cleanlab_seconds": round(cleanlab["seconds"], 1),
        "anchor_cleanlab_confident_learning": cleanlab["found_confident_learning"],
        "anchor_cleanlab_prune_by_noise_rate": cleanlab["found_prune_by_noise_rate"],
    }
    print(f"   label issues SST-2: {found['found']} of {found['rows']} ({found['seconds']:.1f} s)")

    return {
        "what": "clean and split timings (median of 3 fresh processes), the leakage check, "
        "cleaning a 1 GB CSV, label issues on SST-2 train",
        "figures": figures,
        "summary": {
            "clean_imdb_train_seconds": figures["clean_imdb_train"]["seconds"],
            "split_imdb_train_seconds": figures["split_imdb_train"]["seconds"],
            "duplicates_detected": figures["clean_imdb_train"]["duplicates_detected"],
            "shared_texts_on_both_sides": leakage["guard_on"]["shared_on_both_sides"],
            "clean_1gb_peak_rss_mb": figures["clean_1gb_csv"]["peak_rss_mb"],
            "sst2_label_issues": found["found"],
        },
        "targets": {
            "IMDB train: 96 duplicate texts reported": clean["detected"]["exact_duplicates"] == 96,
            "IMDB train: no <br /> left": clean["br_left"] == 0,
            "IMDB train+test: none of the 123 shared texts on both sides": (
                leakage["guard_on"]["shared_texts"] == 123
                and leakage["guard_on"]["shared_on_both_sides"] == 0
            ),
            "1 GB CSV cleans in under 1.5 GB of memory": big_clean["peak_rss_mb"] < 1500,
        },
    }
