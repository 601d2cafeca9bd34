"""What is wrong with the texts: duplicates, conflicting labels, blank, very short and very long
texts, and the quality checks, each counted with a few examples."""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from modelcycle.text import (
    CONTROL,
    EMAIL,
    HTML_ENTITY,
    HTML_TAG,
    MOJIBAKE,
    NON_ASCII,
    QUALITY_CHECKS,
    REPEATED,
    URL,
)

SHORT_WORDS = 3
"""Texts with fewer word tokens than this (and not blank) are 'very short'."""
LONG_IQR = 3.0
"""Texts longer (in characters) than Q3 + LONG_IQR × IQR are 'very long' (Tukey's far out)."""
EXAMPLES = 3
SNIPPET = 220
# Where each quality problem sits in a text, to centre its examples on it (Python's re syntax).
_FINDERS = {
    "html": f"{HTML_TAG}|{HTML_ENTITY}",
    "url": URL,
    "email": EMAIL,
    "control": CONTROL,
    "mojibake": MOJIBAKE,
    "non_ascii": NON_ASCII,
    "repeated_chars": f"(?i){REPEATED}",
}


def snippet(value: str | None, pattern: str | None = None) -> str:
    """A short, readable excerpt of a text, centred on the first match of ``pattern``."""
    if value is None:
        return "(missing)"
    start = 0
    if pattern is not None and (found := re.search(pattern, value)):
        start = max(0, found.start() - 60)
    excerpt = value[start : start + SNIPPET]
    excerpt = re.sub(CONTROL, lambda m: f"\\x{ord(m.group()):02x}", excerpt)
    return ("…" if start else "") + excerpt + ("…" if start + SNIPPET < len(value) else "")


def examples(
    frame: pl.DataFrame, text: str, rows: pl.Series, pattern: str | None = None
) -> list[dict[str, Any]]:
    """``{"row", "text"}`` for the first rows in ``rows`` (numbered from 1, as in errors)."""
    indices = rows.head(EXAMPLES).to_list()
    texts = frame.get_column(text).gather(indices).to_list()
    return [
        {"row": i + 1, "text": snippet(t, pattern)} for i, t in zip(indices, texts, strict=True)
    ]


def duplicates(
    frame: pl.DataFrame, text: str, rows: pl.DataFrame, labels: list[str]
) -> dict[str, Any]:
    """Exact and normalized duplicates, and texts seen with more than one label.

    Texts are compared by their 64-bit hashes: a false match among a million texts is less
    likely than one in ten million."""
    exact_first = rows["exact"].is_first_distinct()
    norm_first = rows["norm"].is_first_distinct()
    texts = frame.get_column(text)
    repeated = (
        rows.group_by("exact")
        .agg(n=pl.len(), first=pl.col("row").min())
        .filter(pl.col("n") > 1)
        .sort(["n", "first"], descending=[True, False])
    )
    near = rows.filter(~norm_first & exact_first).head(EXAMPLES)
    near = near.join(rows.filter(norm_first).select("norm", first="row"), on="norm", how="left")
    conflicts = _conflicts(rows, "exact")
    conflict_examples = []
    for key, first in conflicts.select("exact", "first").head(EXAMPLES).iter_rows():
        per_label = rows.filter(pl.col("exact") == key)["lab"].value_counts(sort=True)
        conflict_examples.append(
            {
                "row": first + 1,
                "text": snippet(texts[first]),
                "labels": {labels[code]: int(n) for code, n in per_label.iter_rows()},
            }
        )
    return {
        "duplicates": int((~exact_first).sum()),
        "duplicate_texts": repeated.height,
        "duplicate_examples": [
            {"row": first + 1, "copies": n, "text": snippet(texts[first])}
            for n, first in repeated.select("n", "first").head(EXAMPLES).iter_rows()
        ],
        "normalized_duplicates": int((~norm_first).sum()),
        "normalized_duplicate_examples": [
            {
                "row": r + 1,
                "text": snippet(texts[r]),
                "same_as_row": f + 1,
                "same_as": snippet(texts[f]),
            }
            for r, f in near.select("row", "first").iter_rows()
        ],
        "conflicting_labels": conflicts.height,
        "conflicting_rows": int(conflicts["n"].sum()) if conflicts.height else 0,
        "conflict_examples": conflict_examples,
        "normalized_conflicting_labels": _conflicts(rows, "norm").height,
    }


def _conflicts(rows: pl.DataFrame, key: str) -> pl.DataFrame:
    return (
        rows.group_by(key)
        .agg(n=pl.len(), labels=pl.col("lab").n_unique(), first=pl.col("row").min())
        .filter(pl.col("labels") > 1)
        .sort(["n", "first"], descending=[True, False])
    )


def blank_texts(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
    """Missing, empty and whitespace-only texts (together: blank)."""
    missing = int(rows["missing"].sum())
    empty = int(rows["empty"].sum())
    blank = rows.filter(pl.col("blank"))["row"]
    return {
        "count": blank.len(),
        "missing": missing,
        "empty": empty,
        "whitespace_only": blank.len() - missing - empty,
        "examples": examples(frame, text, blank),
    }


def short_texts(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
    found = rows.filter(~pl.col("blank") & (pl.col("words") < SHORT_WORDS))["row"]
    return {
        "threshold_words": SHORT_WORDS,
        "count": found.len(),
        "examples": examples(frame, text, found),
    }


def long_texts(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
    chars = rows.filter(~pl.col("blank"))["chars"].cast(pl.Float64)
    if chars.len() == 0:
        return {"threshold_chars": None, "count": 0, "examples": []}
    q1, q3 = (chars.quantile(q, interpolation="linear") or 0.0 for q in (0.25, 0.75))
    threshold = int(q3 + LONG_IQR * (q3 - q1))
    found = rows.filter(~pl.col("blank") & (pl.col("chars") > threshold)).sort(
        "chars", descending=True
    )["row"]
    return {
        "threshold_chars": threshold,
        "count": found.len(),
        "examples": examples(frame, text, found),
    }


def quality(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
    total = rows.height
    flags = rows.select(list(QUALITY_CHECKS))
    counts = flags.sum().row(0, named=True)
    result = {}
    for name, check in QUALITY_CHECKS.items():
        hits = rows.filter(pl.col(name))["row"]
        result[name] = {
            "description": check.description,
            "count": int(counts[name]),
            "share": round(counts[name] / total, 6) if total else 0.0,
            "examples": examples(frame, text, hits, _FINDERS.get(name)),
        }
    return result
