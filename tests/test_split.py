from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcycle._io import sha256_file
from modelcycle.config import SplitConfig
from modelcycle.data import Dataset, load_dataset
from modelcycle.exceptions import DataError, SchemaError
from modelcycle.split import split_dataset, write_splits


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


def test_an_empty_part_is_a_clear_error() -> None:
    data = Dataset.from_records(["a", "b"], ["x", "y"], source="d.csv")
    with pytest.raises(
        DataError, match=r"d\.csv: cannot split 2 rows.*the test part would be empty"
    ):
        split_dataset(data, SplitConfig(test=0.2, val=0.0))


def test_all_unique_labels_say_that_stratification_is_impossible() -> None:
    data = Dataset.from_records(
        [f"text {i}" for i in range(50)], [f"l{i}" for i in range(50)], source="d.csv"
    )
    with pytest.raises(DataError) as caught:
        split_dataset(data, SplitConfig(test=0.2, val=0.1))
    assert str(caught.value) == (
        "d.csv, column 'label': cannot stratify by label: every label has a single row (50 labels "
        "in 50 rows), so no label can be in two parts and the test part would be empty; pass "
        "--no-stratify for a random split, or merge the rare labels"
    )
    parts = split_dataset(data, SplitConfig(test=0.2, val=0.1, stratify=False))
    assert (len(parts.train), len(parts.val or []), len(parts.test)) == (35, 5, 10)


def test_labels_too_small_for_a_share_name_the_share() -> None:
    data = Dataset.from_records([f"text {i}" for i in range(40)], [f"l{i // 2}" for i in range(40)])
    with pytest.raises(
        DataError,
        match=r"column 'label': cannot stratify by label: the largest of its 20 labels has 2 "
        r"rows, too few to put one in a 10% val part; pass --no-stratify",
    ):
        split_dataset(data, SplitConfig(test=0.3, val=0.1))


def test_a_class_too_small_for_a_part_stays_in_train() -> None:
    data = Dataset.from_records(["a", "b", "c", "d", "e"], ["x", "x", "x", "x", "y"])
    parts = split_dataset(data, SplitConfig(test=0.4, val=0.0))
    assert parts.test.label_counts() == {"x": 2}
    assert parts.train.label_counts() == {"x": 2, "y": 1}


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


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=10, max_value=60), min_size=2, max_size=4),
    test=st.sampled_from([0.1, 0.2, 0.3]),
    val=st.sampled_from([0.0, 0.1, 0.2]),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_every_label_keeps_its_share_in_every_part(
    counts: list[int], test: float, val: float, seed: int
) -> None:
    labels = [f"c{i}" for i, n in enumerate(counts) for _ in range(n)]
    data = Dataset.from_records([f"text {i}" for i in range(len(labels))], labels)
    parts = split_dataset(data, SplitConfig(test=test, val=val, seed=seed))
    for i, n in enumerate(counts):
        label = f"c{i}"
        assert parts.test.label_counts().get(label, 0) == int(np.floor(n * test + 0.5))
        got_val = parts.val.label_counts().get(label, 0) if parts.val is not None else 0
        assert got_val == int(np.floor(n * val + 0.5))


def test_write_splits_is_byte_identical_for_a_seed(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    config = SplitConfig(test=0.25, val=0.25, seed=3)
    first = write_splits(split_dataset(data, config), tmp_path / "a", config)
    second = write_splits(split_dataset(data, config), tmp_path / "b", config)
    for name in ("train.csv", "val.csv", "test.csv", "split.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first == second
    assert first["test"]["sha256"] == sha256_file(tmp_path / "a" / "test.csv")
    assert first["test"]["labels"] == {"negative": 3, "positive": 3}
    assert first["seed"] == 3
    other = write_splits(
        split_dataset(data, SplitConfig(test=0.25, val=0.25, seed=4)), tmp_path / "c", config
    )
    assert other["test"]["sha256"] != first["test"]["sha256"]


def test_leakage_guard_keeps_normalized_duplicates_on_one_side() -> None:
    texts = [f"text {i}" for i in range(40)] + ["Same film!", "same FILM", "same<br/>film"] * 4
    labels = ["a", "b"] * 20 + ["a"] * 12
    data = Dataset.from_records(texts, labels)
    for seed in range(10):
        guarded = split_dataset(data, SplitConfig(test=0.3, val=0.2, seed=seed))
        sides = [name for name, part in guarded.parts().items() if "same FILM" in part.texts]
        assert len(sides) == 1
        assert guarded.checks["straddling_texts"] == 0
        assert guarded.checks["duplicate_texts"] == 1
        assert guarded.checks["duplicate_rows"] == 12
    unguarded = split_dataset(data, SplitConfig(test=0.3, val=0.2, seed=0, leakage_guard=False))
    assert unguarded.checks["straddling_texts"] == 1  # what the guard prevents


def test_leakage_guard_keeps_a_phrase_with_the_texts_it_was_cut_from() -> None:
    """SST-2's rows hold each sentence and its phrases: a phrase scored in test while its
    sentence trained would score memory. A phrase in more than CONTAINED_MAX_ROWS texts is a
    common one, and a two-word one too short to say: those are not held."""
    sentences = [f"the plot of film {i} is a tired retread but the cast is fine" for i in range(20)]
    phrases = [f"Film {i} is a tired" for i in range(20)]  # each inside its own sentence
    common = ["The cast is fine!"]  # inside all 20 sentences and the 40 fillers below
    short = ["but the"]
    fillers = [f"review {i}: the cast is fine, truly" for i in range(40)]
    texts = sentences + phrases + common + short + fillers
    labels = ["a", "b"] * (len(texts) // 2)
    data = Dataset.from_records(texts, labels)
    for seed in range(5):
        parts = split_dataset(data, SplitConfig(test=0.3, val=0.0, seed=seed))
        assert parts.checks["contained_texts"] == 20
        train = set(parts.train.texts)
        for sentence, phrase in zip(sentences, phrases, strict=True):
            assert (sentence in train) == (phrase in train)
        assert len(parts.test) in (24, 25)  # the share still holds: 30% of 82 rows
    unguarded = split_dataset(data, SplitConfig(test=0.3, val=0.0, seed=0, leakage_guard=False))
    assert "contained_texts" not in unguarded.checks


def test_texts_inside_others_are_found_by_words_not_characters() -> None:
    from modelcycle.split import CONTAINED_MAX_ROWS, _contained

    texts = pl.Series(
        ["a b c d e", "b c d", "a b c", "c d e f", "b c d e", "bb c d", "x b c d"], dtype=pl.String
    )
    pairs = {tuple(p) for p in _contained(texts).tolist()}
    # "b c d" is in rows 0, 4 and 6; "a b c" in 0; "b c d e" in 0; never "c d e f", "bb c d"
    assert pairs == {(0, 1), (4, 1), (6, 1), (0, 2), (0, 4)}
    many = pl.Series(["one two three"] + [f"w{i} one two three" for i in range(31)])
    assert CONTAINED_MAX_ROWS == 30
    assert len(_contained(many)) == 0  # inside 31 texts: a common phrase
    assert len(_contained(many[:31])) == 30
    assert len(_contained(pl.Series([None, "a b c", None, "z a b c"], dtype=pl.String))) == 1


def test_group_split_keeps_each_group_on_one_side() -> None:
    movies = [f"m{i // 4}" for i in range(80)]
    frame = pl.DataFrame(
        {
            "text": [f"review {i}" for i in range(80)],
            "label": ["pos", "neg"] * 40,
            "movie": movies,
        }
    )
    data = Dataset(frame, "text", "label")
    parts = split_dataset(data, SplitConfig(test=0.2, val=0.2, group="movie", seed=1))
    seen: dict[str, str] = {}
    for name, part in parts.parts().items():
        for movie in part.frame.get_column("movie").to_list():
            assert seen.setdefault(movie, name) == name
    assert (len(parts.train), len(parts.val or []), len(parts.test)) == (48, 16, 16)
    assert parts.checks["groups"] == 20
    assert parts.checks["straddling_groups"] == 0


def test_a_shared_text_joins_two_groups() -> None:
    frame = pl.DataFrame(
        {
            "text": ["shared text", "only a", "shared text!", "only b"]
            + [f"t{i}" for i in range(20)],
            "label": ["x", "y"] * 12,
            "group": ["A", "A", "B", "B"] + [f"g{i}" for i in range(20)],
        }
    )
    data = Dataset(frame, "text", "label")
    for seed in range(5):
        parts = split_dataset(data, SplitConfig(test=0.25, val=0.0, group="group", seed=seed))
        homes = {
            name
            for name, part in parts.parts().items()
            for g in part.frame.get_column("group").to_list()
            if g in ("A", "B")
        }
        assert len(homes) == 1


def test_time_split_trains_on_the_past() -> None:
    frame = pl.DataFrame(
        {
            "text": [f"t{i}" for i in range(10)],
            "label": ["a", "b"] * 5,
            "date": [f"2024-01-{10 - i:02d}" for i in range(10)],
        }
    )
    data = Dataset(frame, "text", "label")
    parts = split_dataset(data, SplitConfig(test=0.2, val=0.2, time="date"))
    assert sorted(parts.test.frame.get_column("date").to_list()) == ["2024-01-09", "2024-01-10"]
    assert sorted(parts.val.frame.get_column("date").to_list()) == ["2024-01-07", "2024-01-08"]  # type: ignore[union-attr]
    assert max(parts.train.frame.get_column("date").to_list()) == "2024-01-06"


def test_bad_time_values_name_the_row() -> None:
    frame = pl.DataFrame(
        {
            "text": ["a", "b", "c"],
            "label": ["x", "y", "x"],
            "when": ["2024-01-01", "soon", "2024-01-03"],
        }
    )
    with pytest.raises(DataError, match=r"d\.csv, row 2, column 'when': 'soon' is not a date"):
        split_dataset(Dataset(frame, "text", "label", "d.csv"), SplitConfig(time="when"))


def test_a_time_column_of_text_that_is_no_date_names_its_first_row() -> None:
    frame = pl.DataFrame(
        {"text": ["a", "b", "c"], "label": ["x", "y", "x"], "when": ["good", "bad", "ugly"]}
    )
    with pytest.raises(DataError, match=r"d\.csv, row 1, column 'when': 'good' is not a date"):
        split_dataset(Dataset(frame, "text", "label", "d.csv"), SplitConfig(time="when"))


def test_unknown_group_column_lists_the_columns() -> None:
    data = Dataset.from_records(["a", "b"], ["x", "y"], source="d.csv")
    with pytest.raises(
        SchemaError, match="--group column 'user' not found; columns are: text, label"
    ):
        split_dataset(data, SplitConfig(group="user"))
