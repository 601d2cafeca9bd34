"""Label normalisation: surrounding and repeated spaces, spellings that differ only in case, and
the user's ``label_map``."""

from __future__ import annotations

import polars as pl

from modelcycle.cleaning._columns import LABEL
from modelcycle.config import CleanConfig


def label_mapping(
    raw_labels: pl.Series, config: CleanConfig
) -> tuple[dict[str, str | None], dict[str, str]]:
    """``raw label -> final label`` (None: missing) and ``raw label -> reason`` for changed ones."""
    counts = raw_labels.drop_nulls().value_counts()
    pairs = dict(
        zip(counts.get_column(LABEL).to_list(), counts.get_column("count").to_list(), strict=True)
    )
    spaced = {raw: " ".join(raw.split()) for raw in pairs}
    canonical: dict[str, str] = {}
    if config.labels:
        totals: dict[str, int] = {}
        for raw, value in spaced.items():
            totals[value] = totals.get(value, 0) + pairs[raw]
        for value in sorted(totals, key=lambda v: (-totals[v], v)):
            canonical.setdefault(value.casefold(), value)
    label_map = {str(k).strip().casefold(): v.strip() for k, v in config.label_map.items()}
    mapping: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    for raw in pairs:
        value = spaced[raw] if config.labels else raw
        if not value.strip():
            mapping[raw] = None
            continue
        why = ["label_space"] if value != raw else []
        if config.labels and canonical[value.casefold()] != value:
            value = canonical[value.casefold()]
            why.append("label_case")
        mapped = label_map.get(value.casefold())
        if mapped is not None and mapped != value:
            value = mapped
            why.append("label_map")
        mapping[raw] = value
        if why:
            reasons[raw] = "+".join(why)
    return mapping, reasons
