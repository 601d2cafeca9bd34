"""Train/validation/test splits: stratified by label and seeded, so a seed gives the same split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from modelcycle.config import SplitConfig
from modelcycle.data import Dataset
from modelcycle.exceptions import DataError

__all__ = ["Splits", "split_dataset"]


@dataclass(frozen=True)
class Splits:
    """The three parts of a dataset; ``val`` is None when no validation share was asked for."""

    train: Dataset
    val: Dataset | None
    test: Dataset

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
    """Split ``dataset`` into train, validation and test parts by ``config``'s shares."""
    config = config or SplitConfig()
    labels = dataset.labels
    indices = np.arange(len(dataset))
    rest, test = _split_off(indices, labels, config.test, config, dataset)
    val = None
    if config.val > 0:
        share_of_rest = config.val / (1.0 - config.test)
        rest, val = _split_off(rest, labels[rest], share_of_rest, config, dataset)
    return Splits(
        train=dataset.take(rest),
        val=None if val is None else dataset.take(val),
        test=dataset.take(test),
    )


def _split_off(
    indices: np.ndarray, labels: np.ndarray, share: float, config: SplitConfig, dataset: Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (rest, part) with ``share`` of them in ``part``, sorted."""
    try:
        rest, part = train_test_split(
            indices,
            test_size=share,
            random_state=config.seed,
            stratify=labels if config.stratify else None,
        )
    except ValueError as exc:
        hint = " (or split without stratification: --set split.stratify=false)"
        raise DataError(
            f"cannot split {len(indices)} rows into shares of {share:.2f}: {exc}"
            + (hint if config.stratify else ""),
            path=dataset.source,
        ) from exc
    return np.sort(rest), np.sort(part)
