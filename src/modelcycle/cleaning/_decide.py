"""Which rows go, and why: missing texts and labels, conflicting labels, duplicates."""

from __future__ import annotations

import polars as pl

from modelcycle.cleaning._columns import DETAIL, EXACT, FINAL, LABEL, MISSING, NORM, REASON, ROW
from modelcycle.config import CleanConfig

REMOVAL_REASONS = (
    "missing_text",
    "missing_label",
    "conflicting_labels",
    "duplicate",
    "near_duplicate",
    "label_issue",
)


def decide(keys: pl.DataFrame, mapping: dict[str, str | None], config: CleanConfig) -> pl.DataFrame:
    """One row per input row, in row order: the final label, and why it is removed (or null)."""
    final = pl.col(LABEL).replace_strict(mapping, default=None, return_dtype=pl.String)
    frame = keys.select(
        ROW,
        EXACT,
        NORM,
        final.alias(FINAL),
        pl.when(pl.col(MISSING))
        .then(pl.lit("missing_text"))
        .when(final.is_null())
        .then(pl.lit("missing_label"))
        .alias(REASON),
        pl.when(pl.col(MISSING))
        .then(pl.lit("no text, or only spaces and markup"))
        .when(final.is_null())
        .then(pl.lit("no label"))
        .alias(DETAIL),
    )
    key = NORM if config.duplicates == "normalized" else EXACT
    if config.conflicts != "keep":
        frame = update(frame, _conflicts(frame, key, config.conflicts))
    if config.duplicates != "none":
        by = [key] if config.conflicts != "keep" else [key, FINAL]
        frame = update(frame, _duplicates(frame, by))
    return frame.select(ROW, FINAL, REASON, DETAIL).sort(ROW)


def _alive(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.filter(pl.col(REASON).is_null() & pl.col(key).is_not_null())


def update(frame: pl.DataFrame, removals: pl.DataFrame) -> pl.DataFrame:
    """Set reason and detail of the rows in ``removals`` (columns row, reason, detail)."""
    if removals.height == 0:
        return frame
    joined = frame.join(
        removals.rename({REASON: "__r", DETAIL: "__d"}),
        on=ROW,
        how="left",
        maintain_order="left",
    )
    return joined.with_columns(
        pl.coalesce(REASON, "__r").alias(REASON), pl.coalesce(DETAIL, "__d").alias(DETAIL)
    ).drop("__r", "__d")


def _conflicts(frame: pl.DataFrame, key: str, mode: str) -> pl.DataFrame:
    alive = _alive(frame, key)
    per_label = alive.group_by(key, FINAL).agg(pl.len().alias("n"))
    summary = (
        per_label.sort(["n", FINAL], descending=[True, False])
        .group_by(key, maintain_order=True)
        .agg(
            pl.len().alias("labels"),
            pl.col(FINAL).first().alias("top"),
            pl.col("n").first().alias("top_n"),
            (pl.col("n").slice(1, 1).first() == pl.col("n").first()).alias("tie"),
            pl.col("n").sum().alias("rows"),
            pl.format("{} ({})", FINAL, "n").str.join(", ").alias("listing"),
        )
        .filter(pl.col("labels") > 1)
    )
    rows = alive.join(summary, on=key, how="inner")
    if mode == "drop":
        chosen = rows.with_columns(pl.format("same text with labels {}", "listing").alias(DETAIL))
    else:
        chosen = rows.filter(pl.col("tie").fill_null(False) | (pl.col(FINAL) != pl.col("top")))
        chosen = chosen.with_columns(
            pl.when(pl.col("tie").fill_null(False))
            .then(pl.format("same text with labels {}: a tie, no majority", "listing"))
            .otherwise(
                pl.format("same text with labels {}: the majority is '{}'", "listing", "top")
            )
            .alias(DETAIL)
        )
    return chosen.select(ROW, pl.lit("conflicting_labels").alias(REASON), DETAIL)


def _duplicates(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    alive = _alive(frame, by[0]).sort(ROW)
    marked = alive.with_columns(
        pl.col(ROW).first().over(by).alias("__first"),
        pl.col(EXACT).first().over(by).alias("__first_exact"),
    ).filter(pl.col(ROW) != pl.col("__first"))
    exact = pl.col(EXACT) == pl.col("__first_exact")
    return marked.select(
        ROW,
        pl.when(exact).then(pl.lit("duplicate")).otherwise(pl.lit("near_duplicate")).alias(REASON),
        pl.when(exact)
        .then(pl.format("same text as row {}", "__first"))
        .otherwise(pl.format("same normalized text as row {}", "__first"))
        .alias(DETAIL),
    )
