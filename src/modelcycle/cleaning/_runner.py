"""The run shared by :func:`clean` (a dataset in memory) and :func:`clean_file` (a file streamed
block by block): pass 1 fixes texts and keeps keys, the decisions are taken on the keys, pass 2
writes the output, the removed rows and the changed values."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from modelcycle._io import check_output_path, write_json
from modelcycle.cleaning._columns import (
    DETAIL,
    EXACT,
    FINAL,
    FIXES,
    LABEL,
    MISSING,
    NORM,
    REASON,
    ROW,
    TEXT,
)
from modelcycle.cleaning._decide import decide
from modelcycle.cleaning._fill import NumericColumns, fill_values, filled, is_missing
from modelcycle.cleaning._issues import mark_label_issues
from modelcycle.cleaning._labels import label_mapping
from modelcycle.cleaning._report import (
    CHANGED_FILE,
    LABEL_ISSUES_FILE,
    REMOVED_FILE,
    REPORT_FILE,
    CleanReport,
    TextCounts,
    build_summary,
)
from modelcycle.cleaning._stores import (
    FileSink,
    MemorySink,
    MemoryStore,
    Sink,
    SpillStore,
    Store,
    arrow_frame,
)
from modelcycle.cleaning._text import fix_texts
from modelcycle.config import CleanConfig
from modelcycle.data import Dataset, iter_batches, read_columns, resolve_columns
from modelcycle.exceptions import ArtifactError, DataError, SchemaError
from modelcycle.text import is_blank, normalized


def clean(dataset: Dataset, config: CleanConfig | None = None) -> tuple[Dataset, CleanReport]:
    """Clean ``dataset`` in memory; returns the cleaned dataset and what was done.

    Example::

        cleaned, report = clean(load_dataset("reviews.csv"), CleanConfig(duplicates="normalized"))
        report.summary["removed"]      # {"duplicate": 96, "missing_text": 0, ...}
        report.removed                 # every removed row with its reason
    """
    config = config or CleanConfig()
    if dataset.label is None:
        raise SchemaError("cleaning needs a label column; pass --label COL", path=dataset.source)
    sink = MemorySink()
    summary = _run(
        [dataset.frame],
        MemoryStore(),
        sink,
        text=dataset.text,
        label=dataset.label,
        config=config,
        source=dataset.source,
    )
    frame = pl.concat(sink.frames["out"], how="vertical_relaxed")
    cleaned = Dataset(frame, dataset.text, dataset.label, dataset.source)
    report = CleanReport(
        summary,
        removed=pl.concat(sink.frames["removed"], how="vertical_relaxed"),
        changed=pl.concat(sink.frames["changed"], how="vertical_relaxed"),
        label_issues=sink.label_issues,
    )
    return cleaned, report


def side_files(out: str | Path) -> dict[str, Path]:
    """The files :func:`clean_file` writes beside ``out``, named after it: for ``x.csv`` (or
    ``x.csv.gz``), ``x.removed.csv``, ``x.changed.csv``, ``x.clean_report.json`` and, when label
    issues are searched, ``x.label_issues.csv``."""
    out = Path(out)
    stem = Path(out.name.removesuffix(".gz")).stem
    names = {
        "removed": REMOVED_FILE,
        "changed": CHANGED_FILE,
        "label_issues": LABEL_ISSUES_FILE,
        "report": REPORT_FILE,
    }
    return {kind: out.with_name(f"{stem}.{name}") for kind, name in names.items()}


def clean_file(
    path: str | Path,
    out: str | Path,
    config: CleanConfig | None = None,
    *,
    text: str | None = None,
    label: str | None = None,
    encoding: str = "utf-8",
    block_size: int = 1 << 24,
) -> CleanReport:
    """Clean the data file ``path`` into ``out``, streaming: memory is bounded by the block size
    and a few bytes per row, not by the file's size. Beside ``out`` go its :func:`side_files`:
    the removed rows, the changed values and the report (and the label issues when they are
    searched). The input is never modified; every output appears only when all of them are
    complete. ``block_size`` is the size in bytes of the blocks a CSV is read in.
    """
    config = config or CleanConfig()
    path, out = Path(path), Path(out)
    siblings = side_files(out)
    if not (config.find_label_issues or config.drop_label_issues):
        del siblings["label_issues"]
    check_output_path(out)
    for target in (out, *siblings.values()):
        if target.is_dir():
            raise ArtifactError(f"{target} is a directory; give the output a file name")
        if target.resolve() == path.resolve():
            raise DataError(
                f"the output {target} would overwrite the input; choose another -o", path=path
            )
    columns = read_columns(path, encoding=encoding)
    text_column, label_column = resolve_columns(
        path, text=text, label=label, encoding=encoding, columns=columns
    )
    assert label_column is not None
    tables = iter_batches(path, encoding=encoding, block_size=block_size, columns=columns)
    batches = (arrow_frame(table) for table in tables)
    out.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        spill_dir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=".clean-", dir=out.parent))
        )
        sink = FileSink(stack, out, siblings)
        summary = _run(
            batches,
            SpillStore(spill_dir / "spill.arrow"),
            sink,
            text=text_column,
            label=label_column,
            config=config,
            source=str(path),
        )
        summary["output"] = str(out)
        summary["files"] = {kind: siblings[kind].name for kind in summary["files"]}
    write_json(siblings["report"], summary)
    return CleanReport(summary)


def _run(
    batches: Iterable[pl.DataFrame],
    store: Store,
    sink: Sink,
    *,
    text: str,
    label: str,
    config: CleanConfig,
    source: str,
) -> dict[str, Any]:
    """Pass 1 fixes texts and keeps a few bytes of keys per row; the decisions are taken on the
    keys; pass 2 re-reads the fixed blocks and writes output, removed and changed rows."""
    keys: list[pl.DataFrame] = []
    before = TextCounts()
    columns: list[str] | None = None
    numeric = NumericColumns(text, label) if config.fill is not None else None
    offset = 0
    for raw in batches:
        if columns is None:
            columns = raw.columns
            _check_columns(columns, text, label, source)
        fixed, fixes = fix_texts(raw.get_column(text), config)
        batch = raw.with_columns(
            pl.Series(TEXT, fixed),
            fixes,
            pl.int_range(offset + 1, offset + raw.height + 1, dtype=pl.UInt64).alias(ROW),
        )
        keys.append(_keys(batch, text, label, config, numeric))
        before.add(raw.get_column(text).cast(pl.String))
        store.append(batch)
        offset += raw.height
    if columns is None or offset == 0:
        raise DataError("no data rows (the file has only a header)", path=source)
    key_frame = pl.concat(keys)
    mapping, label_reasons = label_mapping(key_frame.get_column(LABEL), config)
    decisions = decide(key_frame, mapping, config)
    issues = None
    if config.find_label_issues or config.drop_label_issues:
        decisions, issues = mark_label_issues(store, decisions, label, config)
        sink.label_issues = issues
    fills = fill_values(key_frame, decisions, config, numeric)
    after = TextCounts(quality_checks=False)
    changes: dict[str, int] = {}
    rows_out = rows_changed = 0
    for batch in store.batches():
        start = int(batch.get_column(ROW)[0]) - 1
        part = batch.hstack(decisions.slice(start, batch.height).drop(ROW))
        kept = part.filter(pl.col(REASON).is_null())
        out = _output(kept, columns, text, label, fills)
        changed = _changed(kept, text, label, label_reasons, fills, changes)
        removed = part.filter(pl.col(REASON).is_not_null()).select(
            pl.col(ROW).alias("row"),
            pl.col(REASON).alias("reason"),
            pl.col(DETAIL).alias("detail"),
            *columns,
        )
        after.add(out.get_column(text))
        sink.write("out", out)
        sink.write("removed", removed)
        sink.write("changed", changed)
        rows_out += out.height
        rows_changed += changed.get_column("row").n_unique()
    return build_summary(
        source=source,
        text=text,
        label=label,
        config=config,
        key_frame=key_frame,
        decisions=decisions,
        before=before,
        after=after,
        changes=changes,
        rows_out=rows_out,
        rows_changed=rows_changed,
        fills=fills,
        issues=issues,
        mapping=mapping,
    )


def _check_columns(columns: list[str], text: str, label: str, source: str) -> None:
    reserved = [c for c in columns if c.startswith("__") or c in ("row", "reason", "detail")]
    if reserved:
        raise SchemaError(
            f"column {reserved[0]!r} clashes with the report columns (row, reason, detail, "
            "and names starting with '__'); rename it",
            path=source,
        )
    for column in (text, label):
        if column not in columns:
            raise SchemaError(
                f"column {column!r} not found; columns are: {', '.join(columns)}", path=source
            )


def _keys(
    batch: pl.DataFrame,
    text: str,
    label: str,
    config: CleanConfig,
    numeric: NumericColumns | None,
) -> pl.DataFrame:
    """What the decisions need of each row: a few hashes, the raw label, numeric values."""
    fixed = pl.col(TEXT)
    original = pl.col(text).cast(pl.String)
    norm_fixed = normalized(fixed)
    norm_original = normalized(original)
    blank_original = is_blank(original)
    selected = [
        pl.col(ROW),
        pl.when(blank_original).then(None).otherwise(original.hash()).alias("__orig"),
        pl.when(norm_original == "")
        .then(None)
        .otherwise(norm_original.hash())
        .alias("__orig_norm"),
        pl.when(is_blank(fixed)).then(None).otherwise(fixed.hash()).alias(EXACT),
        pl.when(norm_fixed == "").then(None).otherwise(norm_fixed.hash()).alias(NORM),
        pl.col(label).cast(pl.String).alias(LABEL),
        is_blank(fixed).alias(MISSING),
    ]
    if numeric is not None:
        selected.extend(numeric.values(batch))
    return batch.select(selected)


def _output(
    kept: pl.DataFrame, columns: list[str], text: str, label: str, fills: Mapping[str, str]
) -> pl.DataFrame:
    replaced = [pl.col(TEXT).alias(text), pl.col(FINAL).alias(label)]
    for column, value in fills.items():
        replaced.append(filled(kept.schema[column], column, value).alias(column))
    return kept.with_columns(replaced).select(columns)


def _changed(
    kept: pl.DataFrame,
    text: str,
    label: str,
    label_reasons: Mapping[str, str],
    fills: Mapping[str, str],
    counts: dict[str, int],
) -> pl.DataFrame:
    """One row per changed value: row, column, reason, before, after."""
    parts = [
        kept.filter(pl.col(FIXES).is_not_null()).select(
            pl.col(ROW).alias("row"),
            pl.lit(text).alias("column"),
            pl.col(FIXES).alias("reason"),
            pl.col(text).cast(pl.String).alias("before"),
            pl.col(TEXT).alias("after"),
        )
    ]
    raw = pl.col(label).cast(pl.String)
    parts.append(
        kept.filter(raw.is_in(list(label_reasons))).select(
            pl.col(ROW).alias("row"),
            pl.lit(label).alias("column"),
            raw.replace_strict(label_reasons, default=None, return_dtype=pl.String).alias("reason"),
            raw.alias("before"),
            pl.col(FINAL).alias("after"),
        )
    )
    for column, value in fills.items():
        parts.append(
            kept.filter(is_missing(kept.schema[column], column)).select(
                pl.col(ROW).alias("row"),
                pl.lit(column).alias("column"),
                pl.lit("fill").alias("reason"),
                pl.col(column).cast(pl.String).alias("before"),
                pl.lit(value).alias("after"),
            )
        )
    changed = pl.concat(parts).sort("row", maintain_order=True)
    for reasons in changed.get_column("reason").to_list():
        for reason in reasons.split("+"):
            counts[reason] = counts.get(reason, 0) + 1
    return changed
