"""Do the data's labels match the model's? None in common is an error; some unknown, a warning.

A model cannot answer a label it never saw, so rows with such labels count as errors. When no
row's label is one the model knows, every answer is wrong and the accuracy (0) says nothing about
the model: the data was labeled another way (``1``/``0`` against ``positive``/``negative``) or
the wrong column was read as the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from modelcycle.data import Dataset
from modelcycle.exceptions import DataError

__all__ = ["LABELS_LISTED", "LABEL_CHARS", "LabelCheck", "check_labels", "listing"]

LABELS_LISTED = 10
"""How many labels a message lists before it says how many there are in all."""
LABEL_CHARS = 30
"""Characters of one label a message shows (a text column read as the label has long ones)."""


@dataclass(frozen=True)
class LabelCheck:
    """``unknown``: each label of the data the model does not know, with its number of rows
    (most rows first); ``warnings``: one sentence per problem, for people."""

    unknown: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def check_labels(
    dataset: Dataset, truth: np.ndarray, classes: Sequence[str], *, model: str = "the model"
) -> LabelCheck:
    """Compare the labels ``truth`` of ``dataset`` with a model's ``classes``.

    Raises :class:`DataError` (naming both label sets) when no row has a label the model knows;
    returns the unknown labels and a warning when only some rows do.
    """
    names, counts = np.unique(np.asarray(truth).astype(str), return_counts=True)
    known = np.isin(names, np.asarray(classes, dtype=str))
    if len(names) and not known.any():
        raise DataError(
            f"none of the data's labels is one {model} was trained on, so every answer would be "
            f"wrong; data labels: {listing(names.tolist())}; {model}'s labels: "
            f"{listing(sorted(classes))}. Evaluate on data labeled as the training data was, "
            "or choose the label column with --label",
            path=dataset.source,
            column=dataset.label,
        )
    order = np.lexsort((names, -counts))
    unknown = {str(names[i]): int(counts[i]) for i in order if not known[i]}
    if not unknown:
        return LabelCheck()
    rows, n = sum(unknown.values()), int(counts.sum())
    warning = (
        f"{rows:,} of {n:,} rows ({rows / n:.1%}) have a label {model} was not trained on, and "
        f"count as errors: {listing(list(unknown))}"
    )
    return LabelCheck(unknown=unknown, warnings=[warning])


def listing(labels: Sequence[str], limit: int = LABELS_LISTED) -> str:
    """``a, b, c`` or, past ``limit`` labels, ``a, b, … (1,234 labels in all)``; a label longer
    than :data:`LABEL_CHARS` is cut with ``…``."""
    shown = ", ".join(_short(str(label)) for label in labels[:limit])
    if len(labels) <= limit:
        return shown
    return f"{shown}, … ({len(labels):,} labels in all)"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
