"""Cleaning: fix and remove what is wrong in labeled text, and record every change and removal.

:func:`clean` works on a :class:`~modelcycle.data.Dataset` in memory; :func:`clean_file` streams a
file of any size through the same steps, block by block, and writes the cleaned file ``x.csv``
with its siblings ``x.removed.csv``, ``x.changed.csv`` and ``x.clean_report.json`` (named after
it, so that two outputs in one folder keep their own records). The steps, in order:

1. **Fix each text**: mojibake (UTF-8 read as Latin-1, repaired by ftfy), HTML tags and entities,
   Unicode NFC, control characters, repeated whitespace.
2. **Normalise labels**: surrounding and repeated spaces; spellings that differ only in case become
   the most frequent spelling; then the user's ``label_map`` (``pos=positive``).
3. **Remove rows without a text or a label.** Labels are never filled in: filling a label from the
   row above (pandas' ``fillna(method='ffill')``) invents a label that nobody gave, and a model
   trained on it learns the file's order. Only numeric feature columns can be filled (``fill``).
4. **Resolve conflicts**: the same text with different labels (dropped, or the majority kept).
5. **Remove duplicates**: exact, or normalized (case, spacing, punctuation and HTML-insensitive).
6. **Find likely label errors** (opt-in): out-of-fold probabilities of a quick linear model and
   confident learning; reported, and removed only when asked.
7. **Fill numeric columns** (opt-in): median, mean, zero or a number.

Nothing is lost silently: every input row is either in the output or in the removed rows with its
reason, and every changed value is in the changed rows with its reason, before and after; the
report counts each action and checks that rows in = rows out + rows removed. Detection uses the
shared expressions of :mod:`modelcycle.text`, so cleaning and the EDA report mean the same thing by
"a duplicate" or "a text with HTML".
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc as pa_ipc

from modelcycle._io import check_output_path, write_json
from modelcycle.config import CleanConfig
from modelcycle.data import Dataset, TableWriter, iter_batches, read_columns, resolve_columns
from modelcycle.exceptions import ArtifactError, DataError, SchemaError
from modelcycle.text import CONTROL, HTML_ENTITY, HTML_TAG, QUALITY_CHECKS, is_blank, normalized

__all__ = [
    "REMOVAL_REASONS",
    "TEXT_FIXES",
    "CleanReport",
    "clean",
    "clean_file",
    "confident_learning",
    "find_label_issues",
    "fix_texts",
    "side_files",
]

TEXT_FIXES = ("mojibake", "html", "unicode", "control", "whitespace")
REMOVAL_REASONS = (
    "missing_text",
    "missing_label",
    "conflicting_labels",
    "duplicate",
    "near_duplicate",
    "label_issue",
)
REPORT_FILE = "clean_report.json"
REMOVED_FILE = "removed.csv"
CHANGED_FILE = "changed.csv"
LABEL_ISSUES_FILE = "label_issues.csv"
EXAMPLES = 5

# Working columns; the double underscore keeps them apart from the user's columns.
_ROW = "__row"
_TEXT = "__text"
_FIXES = "__fixes"
_LABEL = "__label"
_FINAL = "__final"
_REASON = "__reason"
_DETAIL = "__detail"
_EXACT = "__exact"
_NORM = "__norm"
_MISSING = "__missing_text"
_NUM = "__num:"


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
    sink = _MemorySink()
    summary = _run(
        [dataset.frame],
        _MemoryStore(),
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
    batches = (_frame(table) for table in tables)
    out.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        spill_dir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=".clean-", dir=out.parent))
        )
        sink = _FileSink(stack, out, siblings)
        summary = _run(
            batches,
            _SpillStore(spill_dir / "spill.arrow"),
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


def fix_texts(texts: pl.Series, config: CleanConfig | None = None) -> tuple[pl.Series, pl.Series]:
    """Apply the text fixes of ``config`` to ``texts``; returns the fixed texts and, per text,
    the fixes that changed it joined by ``+`` (``"html+whitespace"``; null when none did).

    Vectorised: a Python function only runs on the texts a detector flags (ftfy on suspected
    mojibake, :func:`html.unescape` on texts with entities), so clean text costs no Python loop.
    """
    config = config or CleanConfig()
    current = texts.cast(pl.String)
    changed: dict[str, pl.Series] = {}

    def step(name: str, fixed: pl.Series) -> None:
        nonlocal current
        changed[name] = (fixed != current).fill_null(False)
        current = fixed

    if config.mojibake:
        step("mojibake", _apply_where(current, QUALITY_CHECKS["mojibake"].expr, _fix_encoding))
    if config.html:
        # A run of tags and the spaces around it becomes one space: "it.<br /><br />The".
        tagged = current.str.contains(HTML_TAG).fill_null(False)
        replaced = current.str.replace_all(rf"\s*(?:{HTML_TAG}\s*)+", " ").str.strip_chars()
        without_tags = pl.select(pl.when(tagged).then(replaced).otherwise(current)).to_series()
        step("html", _apply_where(without_tags, lambda t: t.str.contains(HTML_ENTITY), _unescape))
    if config.unicode:
        step("unicode", current.str.normalize("NFC"))
    if config.control:
        step("control", current.str.replace_all(CONTROL, ""))
    if config.whitespace:
        step(
            "whitespace",
            current.str.replace_all(r"[^\S\n]+", " ")
            .str.replace_all(r"\s*\n\s*", "\n")
            .str.strip_chars(),
        )
    if not changed:
        return current, pl.Series(_FIXES, [None] * len(current), dtype=pl.String)
    flags = pl.DataFrame(changed)
    fixes = flags.select(
        pl.concat_str(
            [pl.when(pl.col(name)).then(pl.lit(name)) for name in changed],
            separator="+",
            ignore_nulls=True,
        ).alias(_FIXES)
    ).to_series()
    return current, fixes.replace("", None)


def find_label_issues(
    texts: list[str], labels: np.ndarray, *, folds: int = 5, seed: int = 42
) -> pl.DataFrame:
    """Rows whose label a model trained without them confidently disagrees with.

    Out-of-fold probabilities come from a quick linear model: TF-IDF word 1-2 grams (the
    vocabulary is fitted on every text, which sees no label) and a logistic regression, scored by
    stratified ``folds``-fold cross-validation. :func:`confident_learning` then picks the issues.
    Returns ``position, label, suggested, p_label, p_suggested`` per issue, least likely label
    first.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from modelcycle.features import NgramFeaturizer

    classes, targets = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    counts = np.bincount(targets)
    if len(classes) < 2 or counts.min() < 2:
        small = classes[np.argmin(counts)]
        raise DataError(
            "label issue detection needs at least 2 labels with 2 rows each; "
            f"label {small!r} has {counts.min()}"
        )
    _, matrix = NgramFeaturizer(ngram_range=(1, 2), min_df=2).fit_transform(texts)
    cv = StratifiedKFold(n_splits=min(folds, int(counts.min())), shuffle=True, random_state=seed)
    probs = cross_val_predict(
        LogisticRegression(C=4.0, max_iter=1000), matrix, targets, cv=cv, method="predict_proba"
    )
    issues, suggested = confident_learning(targets, probs)
    positions = np.flatnonzero(issues)
    rows = np.arange(len(targets))
    frame = pl.DataFrame(
        {
            "position": positions,
            "label": classes[targets[positions]],
            "suggested": classes[suggested[positions]],
            "p_label": probs[rows, targets][positions],
            "p_suggested": probs[rows, suggested][positions],
        }
    )
    return frame.sort(["p_label", "position"])


def confident_learning(targets: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confident learning (Northcutt, Jiang and Chuang, JAIR 2021), the ``confident_learning``
    filter of cleanlab's ``find_label_issues``, written small.

    Why not cleanlab itself: it would add pandas, tqdm and termcolor to every install for these
    few lines of numpy; a test checks that both flag the same rows.

    A class's threshold is the mean probability of that class over the rows labeled with it. A row
    is counted as confidently of class ``j`` when its probability of ``j`` reaches ``j``'s
    threshold (the most probable such class if several do); it is an issue when that class is
    not its label, unless its label is also the most probable class. Returns ``(issue mask,
    confident class)`` for ``targets`` (class indices) and ``probs`` (rows x classes).
    """
    n, k = probs.shape
    thresholds = np.array(
        [probs[targets == j, j].mean() if np.any(targets == j) else 2.0 for j in range(k)]
    )
    thresholds = np.clip(thresholds, 2e-6, None)
    confident = probs >= thresholds - 1e-6
    count = confident.sum(axis=1)
    guess = np.where(count > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    issues = (count > 0) & (guess != targets)
    bumped = probs.copy()
    bumped[np.arange(n), targets] += 1e-6
    issues &= bumped.argmax(axis=1) != targets
    return issues, guess


# -- the engine shared by clean() and clean_file() ------------------------------------------------


class _Store(Protocol):
    def append(self, frame: pl.DataFrame) -> None: ...

    def batches(self) -> Iterator[pl.DataFrame]: ...


class _Sink(Protocol):
    label_issues: pl.DataFrame | None

    def write(self, kind: str, frame: pl.DataFrame) -> None: ...


def _run(
    batches: Iterable[pl.DataFrame],
    store: _Store,
    sink: _Sink,
    *,
    text: str,
    label: str,
    config: CleanConfig,
    source: str,
) -> dict[str, Any]:
    """Pass 1 fixes texts and keeps a few bytes of keys per row; the decisions are taken on the
    keys; pass 2 re-reads the fixed blocks and writes output, removed and changed rows."""
    keys: list[pl.DataFrame] = []
    before = _Counts()
    columns: list[str] | None = None
    numeric = _NumericColumns(text, label) if config.fill is not None else None
    offset = 0
    for raw in batches:
        if columns is None:
            columns = raw.columns
            _check_columns(columns, text, label, source)
        fixed, fixes = fix_texts(raw.get_column(text), config)
        batch = raw.with_columns(
            pl.Series(_TEXT, fixed),
            fixes,
            pl.int_range(offset + 1, offset + raw.height + 1, dtype=pl.UInt64).alias(_ROW),
        )
        keys.append(_keys(batch, text, label, config, numeric))
        before.add(raw.get_column(text).cast(pl.String))
        store.append(batch)
        offset += raw.height
    if columns is None or offset == 0:
        raise DataError("no data rows (the file has only a header)", path=source)
    key_frame = pl.concat(keys)
    mapping, label_reasons = _label_mapping(key_frame.get_column(_LABEL), config)
    decisions = _decide(key_frame, mapping, config)
    issues = None
    if config.find_label_issues or config.drop_label_issues:
        decisions, issues = _label_issues(store, decisions, label, config)
        sink.label_issues = issues
    fills = _fill_values(key_frame, decisions, config, numeric)
    after = _Counts(quality_checks=False)
    changes: dict[str, int] = {}
    rows_out = rows_changed = 0
    for batch in store.batches():
        start = int(batch.get_column(_ROW)[0]) - 1
        part = batch.hstack(decisions.slice(start, batch.height).drop(_ROW))
        kept = part.filter(pl.col(_REASON).is_null())
        out = _output(kept, columns, text, label, fills)
        changed = _changed(kept, text, label, label_reasons, fills, changes)
        removed = part.filter(pl.col(_REASON).is_not_null()).select(
            pl.col(_ROW).alias("row"),
            pl.col(_REASON).alias("reason"),
            pl.col(_DETAIL).alias("detail"),
            *columns,
        )
        after.add(out.get_column(text))
        sink.write("out", out)
        sink.write("removed", removed)
        sink.write("changed", changed)
        rows_out += out.height
        rows_changed += changed.get_column("row").n_unique()
    return _summary(
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


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _keys(
    batch: pl.DataFrame,
    text: str,
    label: str,
    config: CleanConfig,
    numeric: _NumericColumns | None,
) -> pl.DataFrame:
    """What the decisions need of each row: a few hashes, the raw label, numeric values."""
    fixed = pl.col(_TEXT)
    original = pl.col(text).cast(pl.String)
    norm_fixed = normalized(fixed)
    norm_original = normalized(original)
    blank_original = is_blank(original)
    selected = [
        pl.col(_ROW),
        pl.when(blank_original).then(None).otherwise(original.hash()).alias("__orig"),
        pl.when(norm_original == "")
        .then(None)
        .otherwise(norm_original.hash())
        .alias("__orig_norm"),
        pl.when(is_blank(fixed)).then(None).otherwise(fixed.hash()).alias(_EXACT),
        pl.when(norm_fixed == "").then(None).otherwise(norm_fixed.hash()).alias(_NORM),
        pl.col(label).cast(pl.String).alias(_LABEL),
        is_blank(fixed).alias(_MISSING),
    ]
    if numeric is not None:
        selected.extend(numeric.values(batch))
    return batch.select(selected)


@dataclass
class _NumericColumns:
    """Which columns hold numbers (typed numeric, or text that is all numbers, as CSV reads)."""

    text: str
    label: str
    candidates: dict[str, bool] = field(default_factory=dict)

    def values(self, batch: pl.DataFrame) -> list[pl.Expr]:
        exprs = []
        for name, dtype in batch.schema.items():
            if name in (self.text, self.label) or name.startswith("__"):
                continue
            if dtype.is_numeric():
                self.candidates.setdefault(name, True)
                exprs.append(pl.col(name).cast(pl.Float64).fill_nan(None).alias(_NUM + name))
            elif dtype == pl.String:
                column = batch.get_column(name)
                present = column.str.strip_chars().replace("", None)
                parsed = present.cast(pl.Float64, strict=False)
                numeric = int(parsed.null_count()) == int(present.null_count())
                self.candidates[name] = self.candidates.get(name, True) and numeric
                exprs.append(
                    pl.col(name).str.strip_chars().cast(pl.Float64, strict=False).alias(_NUM + name)
                )
        return exprs

    def columns(self) -> list[str]:
        return [name for name, ok in self.candidates.items() if ok]


def _label_mapping(
    raw_labels: pl.Series, config: CleanConfig
) -> tuple[dict[str, str | None], dict[str, str]]:
    """``raw label -> final label`` (None: missing) and ``raw label -> reason`` for changed ones."""
    counts = raw_labels.drop_nulls().value_counts()
    pairs = dict(
        zip(counts.get_column(_LABEL).to_list(), counts.get_column("count").to_list(), strict=True)
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


def _decide(
    keys: pl.DataFrame, mapping: dict[str, str | None], config: CleanConfig
) -> pl.DataFrame:
    """One row per input row, in row order: the final label, and why it is removed (or null)."""
    final = pl.col(_LABEL).replace_strict(mapping, default=None, return_dtype=pl.String)
    frame = keys.select(
        _ROW,
        _EXACT,
        _NORM,
        final.alias(_FINAL),
        pl.when(pl.col(_MISSING))
        .then(pl.lit("missing_text"))
        .when(final.is_null())
        .then(pl.lit("missing_label"))
        .alias(_REASON),
        pl.when(pl.col(_MISSING))
        .then(pl.lit("no text, or only spaces and markup"))
        .when(final.is_null())
        .then(pl.lit("no label"))
        .alias(_DETAIL),
    )
    key = _NORM if config.duplicates == "normalized" else _EXACT
    if config.conflicts != "keep":
        frame = _update(frame, _conflicts(frame, key, config.conflicts))
    if config.duplicates != "none":
        by = [key] if config.conflicts != "keep" else [key, _FINAL]
        frame = _update(frame, _duplicates(frame, by))
    return frame.select(_ROW, _FINAL, _REASON, _DETAIL).sort(_ROW)


def _alive(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.filter(pl.col(_REASON).is_null() & pl.col(key).is_not_null())


def _update(frame: pl.DataFrame, removals: pl.DataFrame) -> pl.DataFrame:
    """Set reason and detail of the rows in ``removals`` (columns row, reason, detail)."""
    if removals.height == 0:
        return frame
    joined = frame.join(
        removals.rename({_REASON: "__r", _DETAIL: "__d"}),
        on=_ROW,
        how="left",
        maintain_order="left",
    )
    return joined.with_columns(
        pl.coalesce(_REASON, "__r").alias(_REASON), pl.coalesce(_DETAIL, "__d").alias(_DETAIL)
    ).drop("__r", "__d")


def _conflicts(frame: pl.DataFrame, key: str, mode: str) -> pl.DataFrame:
    alive = _alive(frame, key)
    per_label = alive.group_by(key, _FINAL).agg(pl.len().alias("n"))
    summary = (
        per_label.sort(["n", _FINAL], descending=[True, False])
        .group_by(key, maintain_order=True)
        .agg(
            pl.len().alias("labels"),
            pl.col(_FINAL).first().alias("top"),
            pl.col("n").first().alias("top_n"),
            (pl.col("n").slice(1, 1).first() == pl.col("n").first()).alias("tie"),
            pl.col("n").sum().alias("rows"),
            pl.format("{} ({})", _FINAL, "n").str.join(", ").alias("listing"),
        )
        .filter(pl.col("labels") > 1)
    )
    rows = alive.join(summary, on=key, how="inner")
    if mode == "drop":
        chosen = rows.with_columns(pl.format("same text with labels {}", "listing").alias(_DETAIL))
    else:
        chosen = rows.filter(pl.col("tie").fill_null(False) | (pl.col(_FINAL) != pl.col("top")))
        chosen = chosen.with_columns(
            pl.when(pl.col("tie").fill_null(False))
            .then(pl.format("same text with labels {}: a tie, no majority", "listing"))
            .otherwise(
                pl.format("same text with labels {}: the majority is '{}'", "listing", "top")
            )
            .alias(_DETAIL)
        )
    return chosen.select(_ROW, pl.lit("conflicting_labels").alias(_REASON), _DETAIL)


def _duplicates(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    alive = _alive(frame, by[0]).sort(_ROW)
    marked = alive.with_columns(
        pl.col(_ROW).first().over(by).alias("__first"),
        pl.col(_EXACT).first().over(by).alias("__first_exact"),
    ).filter(pl.col(_ROW) != pl.col("__first"))
    exact = pl.col(_EXACT) == pl.col("__first_exact")
    return marked.select(
        _ROW,
        pl.when(exact).then(pl.lit("duplicate")).otherwise(pl.lit("near_duplicate")).alias(_REASON),
        pl.when(exact)
        .then(pl.format("same text as row {}", "__first"))
        .otherwise(pl.format("same normalized text as row {}", "__first"))
        .alias(_DETAIL),
    )


def _label_issues(
    store: _Store, decisions: pl.DataFrame, label: str, config: CleanConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Find (and with ``drop_label_issues`` remove) likely label errors among the kept rows."""
    texts: list[str] = []
    rows: list[pl.Series] = []
    for batch in store.batches():
        start = int(batch.get_column(_ROW)[0]) - 1
        alive = decisions.slice(start, batch.height).get_column(_REASON).is_null()
        texts.extend(batch.get_column(_TEXT).filter(alive).to_list())
        rows.append(batch.get_column(_ROW).filter(alive))
    row_ids = pl.concat(rows)
    kept = decisions.filter(pl.col(_REASON).is_null())
    labels = kept.get_column(_FINAL).to_numpy().astype(str)
    found = find_label_issues(texts, labels, folds=config.label_issue_folds, seed=config.seed)
    positions = found.get_column("position").to_numpy()
    issues = found.select(
        pl.Series("row", row_ids.to_numpy()[positions]),
        pl.col("label"),
        pl.col("suggested"),
        pl.col("p_label").round(4),
        pl.col("p_suggested").round(4),
        pl.Series("text", [texts[i] for i in positions], dtype=pl.String),
    )
    if config.drop_label_issues and issues.height:
        removals = issues.select(
            pl.col("row").alias(_ROW),
            pl.lit("label_issue").alias(_REASON),
            pl.format(
                "labeled '{}', the model says '{}' (p={})", "label", "suggested", "p_suggested"
            ).alias(_DETAIL),
        )
        decisions = _update(decisions, removals)
    return decisions, issues


def _fill_values(
    keys: pl.DataFrame,
    decisions: pl.DataFrame,
    config: CleanConfig,
    numeric: _NumericColumns | None,
) -> dict[str, str]:
    """The value to fill each numeric column's gaps with (as it will be written), by column."""
    if numeric is None or config.fill is None:
        return {}
    kept = keys.filter(decisions.get_column(_REASON).is_null())
    values: dict[str, str] = {}
    for column in numeric.columns():
        series = kept.get_column(_NUM + column)
        if series.null_count() == 0:
            continue
        present = series.drop_nulls()
        if config.fill == "median":
            value = present.median()
        elif config.fill == "mean":
            value = present.mean()
        elif config.fill == "zero":
            value = 0.0
        else:
            value = float(config.fill)
        if not isinstance(value, int | float):
            continue
        number = float(value)
        values[column] = str(int(number)) if number.is_integer() else repr(number)
    return values


def _output(
    kept: pl.DataFrame, columns: list[str], text: str, label: str, fills: Mapping[str, str]
) -> pl.DataFrame:
    replaced = [pl.col(_TEXT).alias(text), pl.col(_FINAL).alias(label)]
    for column, value in fills.items():
        replaced.append(_filled(kept.schema[column], column, value).alias(column))
    return kept.with_columns(replaced).select(columns)


def _filled(dtype: pl.DataType, column: str, value: str) -> pl.Expr:
    if dtype == pl.String:
        blank = pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        return pl.when(blank).then(pl.lit(value)).otherwise(pl.col(column))
    number = float(value)
    if dtype.is_float():
        return pl.col(column).fill_nan(None).fill_null(number)
    if number.is_integer():
        return pl.col(column).fill_null(pl.lit(int(number)).cast(dtype))
    return pl.col(column).cast(pl.Float64).fill_null(number)


def _missing(dtype: pl.DataType, column: str) -> pl.Expr:
    if dtype == pl.String:
        return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
    if dtype.is_float():
        return pl.col(column).is_null() | pl.col(column).is_nan()
    return pl.col(column).is_null()


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
        kept.filter(pl.col(_FIXES).is_not_null()).select(
            pl.col(_ROW).alias("row"),
            pl.lit(text).alias("column"),
            pl.col(_FIXES).alias("reason"),
            pl.col(text).cast(pl.String).alias("before"),
            pl.col(_TEXT).alias("after"),
        )
    ]
    raw = pl.col(label).cast(pl.String)
    parts.append(
        kept.filter(raw.is_in(list(label_reasons))).select(
            pl.col(_ROW).alias("row"),
            pl.lit(label).alias("column"),
            raw.replace_strict(label_reasons, default=None, return_dtype=pl.String).alias("reason"),
            raw.alias("before"),
            pl.col(_FINAL).alias("after"),
        )
    )
    for column, value in fills.items():
        parts.append(
            kept.filter(_missing(kept.schema[column], column)).select(
                pl.col(_ROW).alias("row"),
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


@dataclass
class _Counts:
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


def _summary(
    *,
    source: str,
    text: str,
    label: str,
    config: CleanConfig,
    key_frame: pl.DataFrame,
    decisions: pl.DataFrame,
    before: _Counts,
    after: _Counts,
    changes: dict[str, int],
    rows_out: int,
    rows_changed: int,
    fills: Mapping[str, str],
    issues: pl.DataFrame | None,
    mapping: Mapping[str, str | None],
) -> dict[str, Any]:
    rows_in = key_frame.height
    reasons = decisions.get_column(_REASON).drop_nulls().value_counts()
    removed = dict.fromkeys(REMOVAL_REASONS, 0)
    removed.update(
        zip(
            reasons.get_column(_REASON).to_list(),
            reasons.get_column("count").to_list(),
            strict=True,
        )
    )
    rows_removed = sum(removed.values())
    if rows_in != rows_out + rows_removed:
        raise AssertionError(f"rows in {rows_in} != out {rows_out} + removed {rows_removed}")
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
        (pl.col(_LABEL).is_null() | (pl.col(_LABEL).str.strip_chars() == ""))
        .sum()
        .alias("missing_label"),
    ).row(0, named=True)
    conflicting = (
        key_frame.filter(pl.col("__orig").is_not_null() & pl.col(_LABEL).is_not_null())
        .group_by("__orig")
        .agg(pl.col(_LABEL).n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .height
    )
    raw_labels = key_frame.get_column(_LABEL).drop_nulls()
    labels_before = raw_labels.filter(raw_labels.str.strip_chars() != "").value_counts(sort=True)
    labels_after = (
        decisions.filter(pl.col(_REASON).is_null()).get_column(_FINAL).value_counts(sort=True)
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
        "detected": {
            "exact_duplicates": int(detected["exact_duplicates"]),
            "normalized_duplicates": int(detected["normalized_duplicates"]),
            "conflicting_labels": conflicting,
            "missing_text": int(detected["missing_text"]),
            "missing_label": int(detected["missing_label"]),
            "quality": before.quality,
        },
        "removed": removed,
        "changed": dict(sorted(changes.items())),
        "html": {"before": before.html(), "after": after.html()},
        "labels": {
            "before": _counts_dict(labels_before, _LABEL),
            "after": _counts_dict(labels_after, _FINAL),
        },
        "fill": dict(fills),
        "label_map_unused": sorted(k for k in used if k not in seen),
        "files": {"removed": REMOVED_FILE, "changed": CHANGED_FILE},
    }
    if issues is not None:
        summary["files"]["label_issues"] = LABEL_ISSUES_FILE
        summary["label_issues"] = {
            "method": "confident learning on out-of-fold probabilities of TF-IDF + logistic "
            f"regression ({config.label_issue_folds}-fold)",
            "found": issues.height,
            "dropped": removed["label_issue"],
            "examples": issues.head(EXAMPLES)
            .with_columns(pl.col("text").str.slice(0, 300))
            .to_dicts(),
        }
    return summary


def _counts_dict(counts: pl.DataFrame, column: str) -> dict[str, int]:
    pairs = zip(
        counts.get_column(column).to_list(), counts.get_column("count").to_list(), strict=True
    )
    return dict(sorted(pairs, key=lambda p: (-p[1], str(p[0]))))


def _config_json(config: CleanConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    data["label_map"] = dict(config.label_map)
    return data


# -- helpers -------------------------------------------------------------------------------------


def _apply_where(
    texts: pl.Series, detector: Callable[[pl.Expr], pl.Expr], fix: Callable[[str], str]
) -> pl.Series:
    """Apply the Python function ``fix`` to the texts ``detector`` flags, and only to those."""
    flags = texts.to_frame("t").select(detector(pl.col("t")).fill_null(False)).to_series()
    positions = flags.arg_true()
    if positions.len() == 0:
        return texts
    fixed = [fix(value) for value in texts.gather(positions).to_list()]
    result = texts.clone()
    result.scatter(positions, pl.Series(fixed, dtype=pl.String))
    return result


def _fix_encoding(text: str) -> str:
    import ftfy

    return str(ftfy.fix_encoding(text))


def _unescape(text: str) -> str:
    return html.unescape(text)


class _MemoryStore:
    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def append(self, frame: pl.DataFrame) -> None:
        self.frames.append(frame)

    def batches(self) -> Iterator[pl.DataFrame]:
        return iter(self.frames)


class _SpillStore:
    """The fixed blocks, spilled to an Arrow IPC file so that pass 2 needs no second parse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pa_ipc.RecordBatchFileWriter | None = None
        self.schema: pa.Schema | None = None

    def append(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self.writer is None:
            self.schema = table.schema
            self.writer = pa_ipc.new_file(str(self.path), table.schema)
        self.writer.write_table(table.cast(self.schema))

    def batches(self) -> Iterator[pl.DataFrame]:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        with pa.OSFile(str(self.path)) as source:  # read, not mapped: memory stays bounded
            reader = pa_ipc.open_file(source)
            for index in range(reader.num_record_batches):
                yield _frame(pa.Table.from_batches([reader.get_batch(index)]))


class _MemorySink:
    def __init__(self) -> None:
        self.frames: dict[str, list[pl.DataFrame]] = {"out": [], "removed": [], "changed": []}
        self.label_issues: pl.DataFrame | None = None

    def write(self, kind: str, frame: pl.DataFrame) -> None:
        self.frames[kind].append(frame)


class _FileSink:
    """Writers for the output and its siblings: they close with ``stack``, and their files
    appear only if everything before succeeded."""

    def __init__(self, stack: contextlib.ExitStack, out: Path, siblings: dict[str, Path]) -> None:
        self.stack = stack
        self.siblings = siblings
        self.writers = {
            "out": stack.enter_context(TableWriter(out)),
            "removed": stack.enter_context(TableWriter(siblings["removed"])),
            "changed": stack.enter_context(TableWriter(siblings["changed"])),
        }
        self._issues: pl.DataFrame | None = None

    @property
    def label_issues(self) -> pl.DataFrame | None:
        return self._issues

    @label_issues.setter
    def label_issues(self, frame: pl.DataFrame | None) -> None:
        self._issues = frame
        if frame is not None:
            writer = self.stack.enter_context(TableWriter(self.siblings["label_issues"]))
            writer.write(frame)

    def write(self, kind: str, frame: pl.DataFrame) -> None:
        self.writers[kind].write(frame)
