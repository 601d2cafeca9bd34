"""The labeled-text dataset every stage passes along, and how it is loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from modelcycle.data._read import check_text_columns, read_columns, read_table
from modelcycle.exceptions import DataError, SchemaError

TEXT_CANDIDATES = ("text", "review", "review_text", "sentence", "content")
LABEL_CANDIDATES = ("label", "sentiment", "category", "class", "target")


@dataclass(frozen=True)
class Dataset:
    """A table of text with (optionally) a label per row.

    ``frame`` keeps every column of the source, so later stages can use ids, groups and numeric
    features; ``text`` and ``label`` name the columns that matter. Datasets are never mutated:
    every operation returns a new one.
    """

    frame: pl.DataFrame
    text: str
    label: str | None
    source: str = "<memory>"

    def __post_init__(self) -> None:
        missing = [c for c in (self.text, self.label) if c is not None and c not in self.frame]
        if missing:
            raise SchemaError(
                f"column {missing[0]!r} not found; columns are: {', '.join(self.frame.columns)}",
                path=self.source,
            )

    def __len__(self) -> int:
        return self.frame.height

    @classmethod
    def from_records(
        cls, texts: Sequence[str], labels: Sequence[str] | None = None, *, source: str = "<memory>"
    ) -> Dataset:
        """A dataset from Python lists, with columns ``text`` and ``label``."""
        columns: dict[str, Sequence[str]] = {"text": texts}
        if labels is not None:
            columns["label"] = labels
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
        return cls(frame, "text", "label" if labels is not None else None, source)

    @property
    def texts(self) -> list[str]:
        """The texts, with missing ones as empty strings."""
        return self.frame.get_column(self.text).fill_null("").to_list()

    @property
    def labels(self) -> np.ndarray:
        """The labels as an array of strings (raises if the dataset has no label column)."""
        if self.label is None:
            raise SchemaError(
                "this dataset has no label column; pass --label COL", path=self.source
            )
        return self.frame.get_column(self.label).to_numpy().astype(str)

    @property
    def classes(self) -> list[str]:
        """The distinct labels, sorted."""
        return sorted(set(self.labels.tolist()))

    def label_counts(self) -> dict[str, int]:
        """Rows per label, largest first (ties by label)."""
        values, counts = np.unique(self.labels, return_counts=True)
        pairs = sorted(
            zip(values.tolist(), counts.tolist(), strict=True), key=lambda p: (-p[1], p[0])
        )
        return dict(pairs)

    def take(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """A new dataset with the rows at ``indices``, in that order."""
        frame = self.frame[np.asarray(indices, dtype=np.int64)]
        return Dataset(frame, self.text, self.label, self.source)

    def require_classes(self, minimum: int = 2) -> None:
        """Raise a DataError unless the labels hold at least ``minimum`` classes."""
        classes = self.classes
        if len(classes) < minimum:
            found = ", ".join(repr(c) for c in classes) or "none"
            raise DataError(
                f"training needs at least {minimum} classes, found {len(classes)} ({found})",
                path=self.source,
                column=self.label,
            )


def load_dataset(
    path: str | Path,
    *,
    text: str | None = None,
    label: str | None = None,
    encoding: str = "utf-8",
    require_label: bool = True,
    drop_labels: Sequence[str] = (),
    allow_missing_labels: bool = False,
) -> Dataset:
    """Load labeled text from CSV, TSV, Parquet or JSONL (each optionally gzipped).

    ``text`` and ``label`` name the columns; left out, they are detected from the usual names
    (text/review/review_text/sentence/content and label/sentiment/category/class/target).
    With ``require_label=False`` a file without a label column loads for prediction.
    Rows whose label is in ``drop_labels`` are left out. Rows without a label are an error unless
    ``allow_missing_labels`` (for :func:`modelcycle.cleaning.clean`, which drops and counts them).
    Every problem is a :class:`DataError` naming the file, the row and the column.
    """
    path = Path(path)
    text_column, label_column = resolve_columns(
        path, text=text, label=label, encoding=encoding, require_label=require_label
    )
    wanted = [c for c in (text_column, label_column) if c is not None]
    table = read_table(path, encoding=encoding, string_columns=wanted)
    if table.num_rows == 0:
        raise DataError("no data rows (the file has only a header)", path=path)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    assert text_column is not None
    if label_column is not None:
        frame = _clean_labels(path, frame, label_column, drop_labels, allow_missing_labels)
    _check_texts(path, frame, text_column)
    return Dataset(frame, text_column, label_column, str(path))


def resolve_columns(
    path: str | Path,
    *,
    text: str | None = None,
    label: str | None = None,
    encoding: str = "utf-8",
    require_label: bool = True,
    columns: Sequence[str] | None = None,
) -> tuple[str, str | None]:
    """The ``(text, label)`` column names of a data file: checked if given, else detected
    (``columns``: the file's column names, when already read). A column chosen must hold text
    (or numbers), not lists or structs."""
    path = Path(path)
    columns = list(columns) if columns is not None else read_columns(path, encoding=encoding)
    text_column = _choose_column(path, columns, text, TEXT_CANDIDATES, "text", "--text", True)
    label_column = _choose_column(
        path, columns, label, LABEL_CANDIDATES, "label", "--label", require_label
    )
    assert text_column is not None
    if text_column == label_column:
        raise SchemaError(
            f"column {text_column!r} is chosen as both the text and the label; "
            "the label must be a column of its own (--text and --label)",
            path=path,
        )
    chosen = [c for c in (text_column, label_column) if c is not None]
    check_text_columns(path, chosen, encoding=encoding)
    return text_column, label_column


def _choose_column(
    path: Path,
    columns: list[str],
    given: str | None,
    candidates: tuple[str, ...],
    role: str,
    option: str,
    required: bool,
) -> str | None:
    listed = ", ".join(columns)
    if given is not None:
        if given not in columns:
            raise SchemaError(
                f"{role} column {given!r} not found; columns are: {listed}", path=path
            )
        return given
    matches = [c for c in columns if c.strip().lower() in candidates]
    if len(matches) == 1:
        return matches[0]
    if not required and not matches:
        return None
    if matches:
        names = ", ".join(repr(m) for m in matches)
        raise SchemaError(
            f"several columns could hold the {role} ({names}); choose one with {option} COL",
            path=path,
        )
    raise SchemaError(
        f"no {role} column found; columns are: {listed}; choose one with {option} COL", path=path
    )


def _clean_labels(
    path: Path,
    frame: pl.DataFrame,
    column: str,
    drop_labels: Sequence[str],
    allow_missing: bool = False,
) -> pl.DataFrame:
    """Strip surrounding space from labels; refuse rows without one; drop unwanted labels."""
    labels = pl.col(column).str.strip_chars()
    frame = frame.with_columns(labels.replace("", None).alias(column))
    missing = frame.get_column(column).is_null()
    if missing.any() and not allow_missing:
        first = int(missing.arg_true()[0]) + 1
        count = int(missing.sum())
        raise DataError(
            f"missing label ({count} row{'s' if count > 1 else ''} without one); "
            "fill them in or remove those rows",
            path=path,
            row=first,
            column=column,
        )
    if drop_labels:
        frame = frame.filter(~pl.col(column).is_in(list(drop_labels)))
        if frame.height == 0:
            raise DataError(f"no rows left after dropping labels {list(drop_labels)}", path=path)
    return frame


def _check_texts(path: Path, frame: pl.DataFrame, column: str) -> None:
    """Refuse a text column with nothing but empty or blank texts (cheap when any text is real)."""
    texts = frame.get_column(column).drop_nulls()
    non_empty = texts.filter(texts.str.len_bytes() > 0)
    if (
        not non_empty.head(1000).str.contains(r"\S").any()
        and not non_empty.str.contains(r"\S").any()
    ):
        raise DataError(
            "every text is empty; is this the right text column? (choose one with --text COL)",
            path=path,
            column=column,
        )
