"""What cleaning did: :class:`CleanReport`, and the summary that is ``clean_report.json``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from modelcycle._io import write_json
from modelcycle._wording import plural
from modelcycle.cleaning._columns import FINAL, LABEL, REASON
from modelcycle.cleaning._decide import REMOVAL_REASONS
from modelcycle.config import CleanConfig
from modelcycle.data import TableWriter
from modelcycle.text import HTML_ENTITY, HTML_TAG, QUALITY_CHECKS

REPORT_FILE = "clean_report.json"


REMOVED_FILE = "removed.csv"


CHANGED_FILE = "changed.csv"


LABEL_ISSUES_FILE = "label_issues.csv"


EXAMPLES = 5


@dataclass(frozen=True)
class CleanReport:
    """What cleaning did: ``summary`` is ``clean_report.json``; in memory, :func:`clean` also
    returns the ``removed`` and ``changed`` rows and the ``label_issues`` found."""

    summary: dict[str, Any]
    removed: pl.DataFrame | None = None
    changed: pl.DataFrame | None = None
    label_issues: pl.DataFrame | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary, JSON-ready."""
        return self.summary

    def to_text(self, out: str | Path) -> str:
        """What ``modelcycle clean`` prints: rows kept, removed and changed (by reason) and up to
        three likely label errors."""
        summary = self.summary
        removed = ", ".join(f"{n:,} {why}" for why, n in summary["removed"].items() if n) or "none"
        changed = ", ".join(f"{n:,} {why}" for why, n in summary["changed"].items()) or "none"
        lines = [
            f"wrote {out}: {summary['rows_out']:,} of {plural(summary['rows_in'], 'row')}",
            f"removed {plural(summary['rows_removed'], 'row')} ({removed})",
            f"changed {plural(summary['rows_changed'], 'row')} ({changed})",
        ]
        if "label_issues" in summary:
            issues = summary["label_issues"]
            lines.append(f"label issues: {issues['found']:,} found, {issues['dropped']:,} removed")
            lines += [
                f"  row {example['row']}: labeled {example['label']!r}, the model says "
                f"{example['suggested']!r} (p={example['p_suggested']:.2f}): "
                f"{example['text'][:80]!r}"
                for example in issues["examples"][:3]
            ]
        return "\n".join(lines)

    def write(self, directory: str | Path) -> None:
        """Write ``clean_report.json``, ``removed.csv``, ``changed.csv`` (and ``label_issues.csv``)
        into ``directory``, each atomically."""
        directory = Path(directory)
        for name, frame in (
            (REMOVED_FILE, self.removed),
            (CHANGED_FILE, self.changed),
            (LABEL_ISSUES_FILE, self.label_issues),
        ):
            if frame is not None:
                with TableWriter(directory / name) as writer:
                    writer.write(frame)
        write_json(directory / REPORT_FILE, self.summary)


@dataclass
class TextCounts:
    """HTML counts and (with ``quality``) the text-quality checks, added up block by block."""

    quality_checks: bool = True
    quality: dict[str, int] = field(default_factory=dict)
    html_rows: int = 0
    html_tags: int = 0
    html_entities: int = 0

    def add(self, texts: pl.Series) -> None:
        frame = (
            texts.rename("t")
            .to_frame()
            .select(
                pl.col("t"),
                pl.col("t").str.count_matches(HTML_TAG).fill_null(0).alias("__tags"),
                pl.col("t").str.count_matches(HTML_ENTITY).fill_null(0).alias("__entities"),
            )
        )
        checks = QUALITY_CHECKS if self.quality_checks else {}
        row = frame.select(
            *(check.expr(pl.col("t")).sum().alias(name) for name, check in checks.items()),
            ((pl.col("__tags") > 0) | (pl.col("__entities") > 0)).sum().alias("__rows"),
            pl.col("__tags").sum(),
            pl.col("__entities").sum(),
        ).row(0, named=True)
        for name in checks:
            self.quality[name] = self.quality.get(name, 0) + int(row[name] or 0)
        self.html_rows += int(row["__rows"] or 0)
        self.html_tags += int(row["__tags"] or 0)
        self.html_entities += int(row["__entities"] or 0)

    def html(self) -> dict[str, int]:
        return {
            "rows_with_html": self.html_rows,
            "tags": self.html_tags,
            "entities": self.html_entities,
        }


def build_summary(
    *,
    source: str,
    text: str,
    label: str,
    config: CleanConfig,
    key_frame: pl.DataFrame,
    decisions: pl.DataFrame,
    before: TextCounts,
    after: TextCounts,
    changes: dict[str, int],
    rows_out: int,
    rows_changed: int,
    fills: Mapping[str, str],
    issues: pl.DataFrame | None,
    mapping: Mapping[str, str | None],
) -> dict[str, Any]:
    rows_in = key_frame.height
    reasons = decisions.get_column(REASON).drop_nulls().value_counts()
    removed = dict.fromkeys(REMOVAL_REASONS, 0)
    removed.update(
        zip(
            reasons.get_column(REASON).to_list(),
            reasons.get_column("count").to_list(),
            strict=True,
        )
    )
    rows_removed = sum(removed.values())
    if rows_in != rows_out + rows_removed:
        raise AssertionError(f"rows in {rows_in} != out {rows_out} + removed {rows_removed}")
    raw_labels = key_frame.get_column(LABEL).drop_nulls()
    labels_before = raw_labels.filter(raw_labels.str.strip_chars() != "").value_counts(sort=True)
    labels_after = (
        decisions.filter(pl.col(REASON).is_null()).get_column(FINAL).value_counts(sort=True)
    )
    used = {str(k).strip().casefold() for k in config.label_map}
    seen = {" ".join(raw.split()).casefold() for raw in mapping}
    summary: dict[str, Any] = {
        "input": source,
        "text_column": text,
        "label_column": label,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_removed": rows_removed,
        "rows_changed": rows_changed,
        "config": _config_json(config),
        "detected": {**_detected(key_frame), "quality": before.quality},
        "removed": removed,
        "changed": dict(sorted(changes.items())),
        "html": {"before": before.html(), "after": after.html()},
        "labels": {
            "before": _counts_dict(labels_before, LABEL),
            "after": _counts_dict(labels_after, FINAL),
        },
        "fill": dict(fills),
        "label_map_unused": sorted(k for k in used if k not in seen),
        "files": {"removed": REMOVED_FILE, "changed": CHANGED_FILE},
    }
    if issues is not None:
        summary["files"]["label_issues"] = LABEL_ISSUES_FILE
        summary["label_issues"] = _label_issues(issues, config, dropped=removed["label_issue"])
    return summary


def _detected(key_frame: pl.DataFrame) -> dict[str, int]:
    """What the input held before cleaning: duplicates, conflicting labels, missing values."""
    detected = key_frame.select(
        (
            pl.col("__orig").count()
            - pl.col("__orig").n_unique()
            + pl.col("__orig").null_count().clip(0, 1)
        ).alias("exact_duplicates"),
        (
            pl.col("__orig_norm").count()
            - pl.col("__orig_norm").n_unique()
            + pl.col("__orig_norm").null_count().clip(0, 1)
        ).alias("normalized_duplicates"),
        pl.col("__orig").is_null().sum().alias("missing_text"),
        (pl.col(LABEL).is_null() | (pl.col(LABEL).str.strip_chars() == ""))
        .sum()
        .alias("missing_label"),
    ).row(0, named=True)
    conflicting = (
        key_frame.filter(pl.col("__orig").is_not_null() & pl.col(LABEL).is_not_null())
        .group_by("__orig")
        .agg(pl.col(LABEL).n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .height
    )
    return {
        "exact_duplicates": int(detected["exact_duplicates"]),
        "normalized_duplicates": int(detected["normalized_duplicates"]),
        "conflicting_labels": conflicting,
        "missing_text": int(detected["missing_text"]),
        "missing_label": int(detected["missing_label"]),
    }


def _label_issues(issues: pl.DataFrame, config: CleanConfig, *, dropped: int) -> dict[str, Any]:
    """The label issues' part of the summary: method, counts and a few examples."""
    return {
        "method": "confident learning on out-of-fold probabilities of TF-IDF + logistic "
        f"regression ({config.label_issue_folds}-fold)",
        "found": issues.height,
        "dropped": dropped,
        "examples": issues.head(EXAMPLES).with_columns(pl.col("text").str.slice(0, 300)).to_dicts(),
    }


def _counts_dict(counts: pl.DataFrame, column: str) -> dict[str, int]:
    pairs = zip(
        counts.get_column(column).to_list(), counts.get_column("count").to_list(), strict=True
    )
    return dict(sorted(pairs, key=lambda p: (-p[1], str(p[0]))))


def _config_json(config: CleanConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    data["label_map"] = dict(config.label_map)
    return data
