from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcycle.config import SplitConfig
from modelcycle.data import Dataset, load_dataset
from modelcycle.exceptions import DataError
from modelcycle.split import split_dataset


def test_shares_and_stratification(reviews_csv: Path) -> None:
    parts = split_dataset(load_dataset(reviews_csv), SplitConfig(test=0.25, val=0.25, seed=1))
    assert parts.val is not None
    assert (len(parts.train), len(parts.val), len(parts.test)) == (12, 6, 6)
    for part in parts.parts().values():
        counts = part.label_counts()
        assert counts["positive"] == counts["negative"]


def test_no_validation_part_when_val_is_zero(reviews_csv: Path) -> None:
    parts = split_dataset(load_dataset(reviews_csv), SplitConfig(test=0.25, val=0.0))
    assert parts.val is None
    assert list(parts.parts()) == ["train", "test"]


def test_summary_counts_rows_per_label(reviews_csv: Path) -> None:
    summary = split_dataset(load_dataset(reviews_csv), SplitConfig(test=0.25, val=0.25)).summary()
    assert summary["test"] == {"rows": 6, "labels": {"negative": 3, "positive": 3}}


def test_a_class_too_small_to_stratify_is_a_clear_error() -> None:
    data = Dataset.from_records(
        ["a", "b", "c", "d", "e"], ["x", "x", "x", "x", "y"], source="d.csv"
    )
    with pytest.raises(
        DataError, match=r"d\.csv: cannot split 5 rows.*--set split\.stratify=false"
    ):
        split_dataset(data, SplitConfig(test=0.4, val=0.0))


@settings(max_examples=30, deadline=None)
@given(
    n_per_class=st.integers(min_value=5, max_value=40),
    n_classes=st.integers(min_value=2, max_value=4),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_split_partitions_rows_and_is_deterministic(
    n_per_class: int, n_classes: int, seed: int
) -> None:
    labels = [f"c{i % n_classes}" for i in range(n_per_class * n_classes)]
    texts = [f"text {i}" for i in range(len(labels))]
    data = Dataset.from_records(texts, labels)
    config = SplitConfig(test=0.2, val=0.2, seed=seed)
    first, second = split_dataset(data, config), split_dataset(data, config)
    seen = [t for part in first.parts().values() for t in part.texts]
    assert sorted(seen) == sorted(texts)  # every row exactly once
    for name, part in first.parts().items():
        assert part.texts == second.parts()[name].texts
        counts = np.array([part.label_counts().get(f"c{i}", 0) for i in range(n_classes)])
        assert counts.max() - counts.min() <= 2  # stratified: equal classes stay equal, ±1 a cut
