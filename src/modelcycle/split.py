"""Train/validation/test splits: stratified by label, seeded, grouped, in time order, leak-free.

* **Stratified and seeded**: every label keeps its share in every part; a seed gives the same split,
  and :func:`write_splits` the same bytes.
* **Groups** (``group``): all rows of a group (a product, a user, a movie) land on one side.
* **Time** (``time``): the earliest rows train, the latest test, so the model is scored on the
  future it will meet.
* **Leakage guard** (``leakage_guard``, on by default): rows whose normalized texts are equal
  (case, spacing, punctuation and HTML aside, :func:`modelcycle.text.normalized`) never straddle
  two parts; a duplicate in train and test would score memory, not generalisation. Nor does a
  text of ``CONTAINED_MIN_WORDS`` words or more found whole inside other rows' texts (in at most
  ``CONTAINED_MAX_ROWS`` of them): a phrase cut from a review (SST-2 holds every sentence's
  phrases), a quoted message. One found in more rows is a common phrase, not a copy.

Texts inside others are found by hashing: each word numbered, every window of words hashed
(a polynomial hash, so a window's hash is a difference of two prefix sums); the windows that
begin with a shorter text's first three words are compared whole. Groups, duplicates and texts
inside others are joined into connected components (a group with a text that also appears in
another group pulls both together); whole components are then assigned to parts.
scikit-learn has no stratified *group* split with free shares (``StratifiedGroupKFold`` makes
equal folds), so the assignment is written here: components of several rows go first, largest
first, each to the part whose per-label shortfall it fills most; the single rows then fill each
label's remaining shortfall exactly, in a seeded random order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelcycle._io import sha256_file, write_json
from modelcycle._wording import plural
from modelcycle.config import SplitConfig
from modelcycle.data import Dataset, write_table
from modelcycle.exceptions import DataError, SchemaError
from modelcycle.text import normalized

__all__ = ["PARTS", "SPLIT_FILE", "Splits", "split_dataset", "split_summary", "write_splits"]

PARTS = ("train", "val", "test")
SPLIT_FILE = "split.json"
CONTAINED_MIN_WORDS = 3
CONTAINED_MAX_ROWS = 30
_HASH_BASE = 1_000_003  # odd, so invertible modulo 2**64
_NO_PAIRS = np.empty((0, 2), dtype=np.int64)


@dataclass(frozen=True)
class Splits:
    """The three parts of a dataset; ``val`` is None when no validation share was asked for.

    ``checks`` holds what the guard saw: duplicate texts kept together, groups, and the texts
    found in more than one part (always 0 with the leakage guard on).
    """

    train: Dataset
    val: Dataset | None
    test: Dataset
    checks: dict[str, Any] = field(default_factory=dict)

    def parts(self) -> dict[str, Dataset]:
        """The non-empty parts by name, in the order train, val, test."""
        named = {"train": self.train, "val": self.val, "test": self.test}
        return {name: part for name, part in named.items() if part is not None}

    def summary(self) -> dict[str, Any]:
        """Rows and rows per label of each part (JSON-ready)."""
        return {
            name: {"rows": len(part), "labels": part.label_counts()}
            for name, part in self.parts().items()
        }


def split_dataset(dataset: Dataset, config: SplitConfig | None = None) -> Splits:
    """Split ``dataset`` into train, validation and test parts by ``config``'s shares.

    Example::

        parts = split_dataset(data, SplitConfig(test=0.2, val=0.1, group="movie_name", seed=7))
        parts.checks["straddling_texts"]      # 0: no normalized text in two parts
    """
    config = config or SplitConfig()
    frame = dataset.frame
    for option, column in (("--group", config.group), ("--time", config.time)):
        if column is not None and column not in frame.columns:
            raise SchemaError(
                f"{option} column {column!r} not found; columns are: {', '.join(frame.columns)}",
                path=dataset.source,
            )
    texts = frame.select(normalized(pl.col(dataset.text)).replace("", None)).to_series()
    groups = frame.get_column(config.group) if config.group else None
    guarded = config.leakage_guard
    inside = _contained(texts) if guarded else _NO_PAIRS
    components = _components(len(dataset), [texts] if guarded else [], groups, inside)
    shares = np.array([1.0 - config.test - config.val, config.val, config.test])
    stratify = config.time is None and config.stratify and dataset.label is not None
    if config.time is not None:
        times = _times(dataset, config.time)
        assignment = _by_time(components, times, shares)
    else:
        labels = dataset.labels if stratify else np.zeros(len(dataset), dtype=str)
        rng = np.random.default_rng(config.seed)
        assignment = _stratified(components, labels, shares, rng)
    counts = np.bincount(assignment, minlength=3)
    for index in (0, 2, 1):
        if counts[index] == 0 and shares[index] > 0:
            raise _empty_part(dataset, shares, index, stratified=stratify)
    rows = {name: np.flatnonzero(assignment == index) for index, name in enumerate(PARTS)}
    checks = _checks(texts, assignment, components, groups)
    if guarded:
        checks["contained_texts"] = len(np.unique(inside[:, 1]))
    return Splits(
        train=dataset.take(rows["train"]),
        val=dataset.take(rows["val"]) if config.val > 0 else None,
        test=dataset.take(rows["test"]),
        checks=checks,
    )


def write_splits(
    splits: Splits, directory: str | Path, config: SplitConfig, *, suffix: str = ".csv"
) -> dict[str, Any]:
    """Write each part as ``directory/<part><suffix>`` and ``split.json``: rows per label per part,
    the seed and settings, the guard's checks and each file's SHA-256. Returns ``split.json``."""
    directory = Path(directory)
    document: dict[str, Any] = {
        "seed": config.seed,
        "test": config.test,
        "val": config.val,
        "stratify": config.stratify,
        "group": config.group,
        "time": config.time,
        "leakage_guard": config.leakage_guard,
        "checks": splits.checks,
    }
    for name, part in splits.parts().items():
        path = write_table(part.frame, directory / f"{name}{suffix}")
        document[name] = {
            "rows": len(part),
            "labels": part.label_counts() if part.label is not None else {},
            "file": path.name,
            "sha256": sha256_file(path),
        }
    write_json(directory / SPLIT_FILE, document)
    return document


def split_summary(document: dict[str, Any], directory: str | Path) -> str:
    """What ``modelcycle split`` prints of ``split.json``: rows and labels per part, the guard's
    checks and where the file went."""
    lines = []
    for name in ("train", "val", "test"):
        if name in document:
            part = document[name]
            labels = ", ".join(f"{k} {v:,}" for k, v in part["labels"].items())
            lines.append(f"{name:5} {part['rows']:>9,} rows  {labels}")
    checks = document["checks"]
    seen = [f"{plural(checks['duplicate_texts'], 'duplicate text')} kept together"]
    if "contained_texts" in checks:  # split.json files before the guard looked inside texts
        seen.append(f"{plural(checks['contained_texts'], 'text')} inside others kept with them")
    seen.append(f"{plural(checks['straddling_texts'], 'text')} in two parts")
    line = f"leakage guard {'on' if document['leakage_guard'] else 'off'}: {', '.join(seen)}"
    if "groups" in checks:
        line += (
            f"; {plural(checks['groups'], 'group')}, {checks['straddling_groups']:,} in two parts"
        )
    return "\n".join([*lines, line, f"wrote {Path(directory) / SPLIT_FILE}"])


def _components(
    n: int, keys: list[pl.Series], groups: pl.Series | None, pairs: np.ndarray
) -> np.ndarray:
    """Component id per row: rows sharing any key (or a group), and the rows of each of
    ``pairs``, are connected; ids are numbered in order of first row, so they do not depend on
    the graph library's numbering."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    columns = list(keys)
    if groups is not None:
        columns.append(groups.cast(pl.String))
    if not columns and not len(pairs):
        return np.arange(n)
    sources, targets, offset = [pairs[:, 0]], [pairs[:, 1]], n
    for column in columns:
        present = column.is_not_null().to_numpy()
        codes = np.unique(column.hash().to_numpy(), return_inverse=True)[1]
        rows = np.flatnonzero(present)
        sources.append(rows)
        targets.append(offset + codes[rows])
        offset += int(codes.max(initial=-1)) + 1
    source = np.concatenate(sources)
    target = np.concatenate(targets)
    graph = coo_matrix((np.ones(len(source)), (source, target)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    row_labels = labels[:n]
    _, first, inverse = np.unique(row_labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return np.asarray(order[inverse])


def _contained(texts: pl.Series) -> np.ndarray:
    """``(row, inner)`` pairs: the normalized text of row ``inner`` (``CONTAINED_MIN_WORDS``
    words or more, found in at most ``CONTAINED_MAX_ROWS`` other rows) is a run of row
    ``row``'s words. See the module's docstring."""
    present = texts.is_not_null().to_numpy()
    words = texts.filter(present).str.split(" ")
    lengths = np.zeros(len(texts), dtype=np.int64)
    lengths[present] = words.list.len().to_numpy()
    ids = words.explode().cast(pl.Categorical).to_physical().cast(pl.UInt64).to_numpy() + 1
    starts = np.concatenate([[0], np.cumsum(lengths)])
    inner = np.flatnonzero(lengths >= CONTAINED_MIN_WORDS)
    if not len(inner):
        return _NO_PAIRS
    with np.errstate(over="ignore"):
        base, inverse = np.uint64(_HASH_BASE), np.uint64(pow(_HASH_BASE, -1, 2**64))
        ones = np.ones(len(ids) + 1, dtype=np.uint64)
        undo = np.cumprod(ones * inverse) * base  # base ** -j
        redo = np.cumprod(ones * base) * inverse  # base ** i
        prefix = np.zeros(len(ids) + 1, dtype=np.uint64)
        prefix[1:] = np.cumsum(ids * undo[: len(ids)])

        def window(at: np.ndarray, size: np.ndarray | int) -> np.ndarray:
            return redo[at] * (prefix[at + size] - prefix[at])

        row_of = np.repeat(np.arange(len(lengths)), lengths)
        head = CONTAINED_MIN_WORDS
        at = np.arange(len(ids) - head + 1)
        at = at[at + head <= starts[row_of[at] + 1]]  # windows within one text
        heads = pl.DataFrame({"key": window(at, head), "at": at})
        inners = pl.DataFrame({"key": window(starts[inner], head), "inner": inner})
        found = heads.join(inners, on="key").select("at", "inner")
        at, rows = found.get_column("at").to_numpy(), found.get_column("inner").to_numpy()
        row, size = row_of[at], lengths[rows]
        fits = (lengths[row] > size) & (at + size <= starts[row + 1])  # equal: a duplicate
        at, rows, row, size = at[fits], rows[fits], row[fits], size[fits]
        same = window(at, size) == window(starts[rows], size)
    pairs = np.unique(np.stack([row[same], rows[same]], axis=1), axis=0)
    containers = np.bincount(pairs[:, 1], minlength=len(lengths))
    return pairs[containers[pairs[:, 1]] <= CONTAINED_MAX_ROWS]


def _empty_part(dataset: Dataset, shares: np.ndarray, index: int, *, stratified: bool) -> DataError:
    """Why part ``index`` would be empty, in one line: stratification, where the labels are too
    small for a share that the rows as a whole would fill, or else too few rows or groups."""
    name, n = PARTS[index], len(dataset)
    if stratified and _targets(np.array([n]), shares)[index, 0] > 0:
        per_label = np.unique(dataset.labels, return_counts=True)[1]
        if _targets(per_label, shares)[index].sum() == 0:
            largest = int(per_label.max())
            why = (
                f"every label has a single row ({len(per_label):,} labels in {n:,} rows), so no "
                f"label can be in two parts and the {name} part would be empty"
                if largest == 1
                else f"the largest of its {len(per_label):,} labels has {largest:,} rows, too few "
                f"to put one in a {shares[index]:.0%} {name} part"
            )
            return DataError(
                f"cannot stratify by label: {why}; pass --no-stratify for a random split, or "
                "merge the rare labels",
                path=dataset.source,
                column=dataset.label,
            )
    return DataError(
        f"cannot split {n} rows into shares of {shares[1]:.2f} val and {shares[2]:.2f} test: "
        f"the {name} part would be empty (too few rows or groups)",
        path=dataset.source,
    )


def _targets(per_class: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Rows of each class (columns) that each part (rows: train, val, test) should get."""
    targets = np.floor(np.outer(shares, per_class) + 0.5)
    targets[0] = per_class - targets[1] - targets[2]
    return targets


def _stratified(
    components: np.ndarray, labels: np.ndarray, shares: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Part index (0 train, 1 val, 2 test) per row; see the module docstring."""
    classes, y = np.unique(labels, return_inverse=True)
    k, n_comp = len(classes), int(components.max(initial=-1)) + 1
    per_class = np.bincount(y, minlength=k)
    targets = _targets(per_class, shares)
    sizes = np.bincount(components, minlength=n_comp)
    assigned = np.full(n_comp, -1)
    filled = np.zeros((3, k))
    multi = np.flatnonzero(sizes > 1)
    if len(multi):
        composition = np.zeros((n_comp, k))
        np.add.at(composition, (components, y), 1)
        shuffled = rng.permutation(multi)
        for comp in shuffled[np.argsort(-sizes[shuffled], kind="stable")]:
            gain = (composition[comp] * (targets - filled)).sum(axis=1)
            gain[shares == 0] = -np.inf
            part = int(np.argmax(gain))
            assigned[comp] = part
            filled[part] += composition[comp]
    assignment = assigned[components]
    single = np.flatnonzero(assignment < 0)
    for c in range(k):
        rows = rng.permutation(single[y[single] == c])
        n_test = int(np.clip(targets[2, c] - filled[2, c], 0, len(rows)))
        n_val = int(np.clip(targets[1, c] - filled[1, c], 0, len(rows) - n_test))
        assignment[rows[:n_test]] = 2
        assignment[rows[n_test : n_test + n_val]] = 1
        assignment[rows[n_test + n_val :]] = 0
    return assignment


def _by_time(components: np.ndarray, times: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Train on the earliest rows, then validation, then test on the latest; a component goes
    where its earliest row falls."""
    n = len(components)
    n_comp = int(components.max(initial=-1)) + 1
    start = np.full(n_comp, np.inf)
    np.minimum.at(start, components, times)
    sizes = np.bincount(components, minlength=n_comp)
    first_row = np.full(n_comp, n)
    np.minimum.at(first_row, components, np.arange(n))
    order = np.lexsort((first_row, start))
    before = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    n_test = np.floor(n * shares[2] + 0.5)
    n_val = np.floor(n * shares[1] + 0.5)
    n_train = n - n_test - n_val
    part = np.where(before < n_train, 0, np.where(before < n_train + n_val, 1, 2))
    assigned = np.empty(n_comp, dtype=np.int64)
    assigned[order] = part
    return np.asarray(assigned[components])


def _times(dataset: Dataset, column: str) -> np.ndarray:
    """The time column as sortable numbers; dates and datetimes given as text are parsed."""
    series = dataset.frame.get_column(column)
    if series.dtype == pl.String:
        try:
            parsed = series.str.strip_chars().str.to_datetime(strict=False)
        except pl.exceptions.ComputeError:  # polars infers the format from the first value
            parsed = pl.Series(column, [None] * len(series), dtype=pl.Datetime)
        bad = parsed.is_null() & series.is_not_null()
        if bad.any():
            row = int(bad.arg_true()[0])
            raise DataError(
                f"{series[row]!r} is not a date or time (use ISO 8601, e.g. 2024-05-31 or "
                "2024-05-31T12:00:00)",
                path=dataset.source,
                row=row + 1,
                column=column,
            )
        series = parsed
    if not (series.dtype.is_temporal() or series.dtype.is_numeric()):
        raise DataError(
            f"holds {series.dtype} values; --time needs dates, times or numbers",
            path=dataset.source,
            column=column,
        )
    if series.null_count():
        row = int(series.is_null().arg_true()[0])
        raise DataError(
            "missing time value; fill it in or drop the row",
            path=dataset.source,
            row=row + 1,
            column=column,
        )
    return np.asarray(series.to_physical().cast(pl.Float64).to_numpy())


def _checks(
    texts: pl.Series, assignment: np.ndarray, components: np.ndarray, groups: pl.Series | None
) -> dict[str, Any]:
    """What the guard saw: duplicate texts and their rows, the units kept whole (groups joined by
    shared texts), texts found in more than one part and groups found in more than one part."""
    frame = pl.DataFrame({"text": texts, "part": assignment}).filter(pl.col("text").is_not_null())
    per_text = frame.group_by("text").agg(
        pl.len().alias("rows"), pl.col("part").n_unique().alias("parts")
    )
    repeated = per_text.filter(pl.col("rows") > 1)
    checks: dict[str, Any] = {
        "duplicate_texts": repeated.height,
        "duplicate_rows": int(repeated.get_column("rows").sum()),
        "straddling_texts": int((per_text.get_column("parts") > 1).sum()),
    }
    checks["units"] = int(components.max(initial=-1)) + 1
    if groups is not None:
        by_group = pl.DataFrame({"group": groups, "part": assignment}).drop_nulls("group")
        spread = by_group.group_by("group").agg(pl.col("part").n_unique().alias("parts"))
        checks["groups"] = spread.height
        checks["straddling_groups"] = int((spread.get_column("parts") > 1).sum())
    return checks
