import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcycle.cleaning import (
    clean,
    clean_file,
    confident_learning,
    find_label_issues,
    fix_texts,
    side_files,
)
from modelcycle.config import CleanConfig
from modelcycle.data import Dataset
from modelcycle.exceptions import ArtifactError, ConfigError, DataError


def dataset(texts: list[str | None], labels: list[str | None], **extra: list) -> Dataset:
    frame = pl.DataFrame(
        {"text": texts, "label": labels, **extra}, schema_overrides={"text": pl.String}
    )
    return Dataset(frame, "text", "label", "d.csv")


def fixed(texts: list[str | None], **config: object) -> list[str | None]:
    result, _ = fix_texts(pl.Series(texts, dtype=pl.String), CleanConfig(**config))  # type: ignore[arg-type]
    return result.to_list()


# -- text fixes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param(
            ["Great!<br /><br />Loved it.", "fish &amp; chips", "<b>bold</b> move"],
            ["Great! Loved it.", "fish & chips", "bold move"],
            id="html tags and entities",
        ),
        pytest.param(
            ["cafÃ© crÃ¨me", "itâ€™s fine"], ["café crème", "it’s fine"], id="mojibake (ftfy)"
        ),
        pytest.param(["cafe\u0301"], ["caf\u00e9"], id="unicode NFC"),
        pytest.param(
            ["bell\x07 here", "  too   many\t spaces  ", "one\n\n\n two"],
            ["bell here", "too many spaces", "one\ntwo"],
            id="control characters and whitespace",
        ),
    ],
)
def test_text_fixes(texts: list[str | None], expected: list[str]) -> None:
    assert fixed(texts) == expected


def test_each_fix_is_named_and_can_be_turned_off() -> None:
    texts = pl.Series(["a<br />b  c", "clean", None], dtype=pl.String)
    result, fixes = fix_texts(texts, CleanConfig())
    assert result.to_list() == ["a b c", "clean", None]
    assert fixes.to_list() == ["html+whitespace", None, None]
    assert fixed(["a<br />b"], html=False) == ["a<br />b"]
    assert fixed(["cafe\u0301"], unicode=False) == ["cafe\u0301"]


# -- rows: missing, duplicates, conflicts ---------------------------------------------------------


def test_rows_without_text_or_label_are_removed_and_counted() -> None:
    data = dataset(
        ["ok", None, "  ", "<br />", "fine", "no label"], ["a", "a", "b", "b", "b", None]
    )
    cleaned, report = clean(data)
    assert cleaned.texts == ["ok", "fine"]
    assert report.summary["removed"]["missing_text"] == 3
    assert report.summary["removed"]["missing_label"] == 1
    assert report.removed is not None
    assert report.removed.select("row", "reason").rows() == [
        (2, "missing_text"),
        (3, "missing_text"),
        (4, "missing_text"),
        (6, "missing_label"),
    ]


def test_labels_are_never_filled_from_the_row_above() -> None:
    data = dataset(["good", "bad", "unlabeled"], ["pos", "neg", None])
    cleaned, report = clean(data, CleanConfig(fill="median"))
    assert cleaned.texts == ["good", "bad"]  # dropped, not given 'neg' like fillna(ffill) would
    assert report.summary["removed"]["missing_label"] == 1


def test_exact_duplicates_keep_the_first_row() -> None:
    data = dataset(["same", "other", "same", "Same!"], ["a", "b", "a", "a"])
    cleaned, report = clean(data)
    assert cleaned.texts == ["same", "other", "Same!"]
    assert report.removed is not None
    assert report.removed.select("row", "reason", "detail").rows() == [
        (3, "duplicate", "same text as row 1")
    ]
    assert report.summary["detected"]["exact_duplicates"] == 1
    assert report.summary["detected"]["normalized_duplicates"] == 2


def test_normalized_duplicates_ignore_case_spacing_punctuation_and_html() -> None:
    data = dataset(["Great film!", "great   FILM", "great<br />film...", "other"], ["a"] * 4)
    cleaned, report = clean(data, CleanConfig(duplicates="normalized"))
    assert cleaned.texts == ["Great film!", "other"]
    assert report.summary["removed"]["near_duplicate"] == 2
    assert report.removed is not None
    assert report.removed.get_column("detail").to_list() == ["same normalized text as row 1"] * 2


def test_duplicates_can_be_kept() -> None:
    cleaned, _ = clean(dataset(["x", "x"], ["a", "a"]), CleanConfig(duplicates="none"))
    assert cleaned.texts == ["x", "x"]


def test_conflicting_labels_are_dropped() -> None:
    data = dataset(["t", "t", "u", "t"], ["a", "b", "a", "a"])
    cleaned, report = clean(data, CleanConfig(conflicts="drop"))
    assert cleaned.texts == ["u"]
    assert report.summary["removed"]["conflicting_labels"] == 3
    assert report.removed is not None
    assert report.removed.get_column("detail")[0] == "same text with labels a (2), b (1)"


def test_conflicting_labels_keep_the_majority_and_a_tie_drops_all() -> None:
    data = dataset(["t", "t", "t", "v", "v"], ["a", "b", "a", "a", "b"])
    cleaned, report = clean(data, CleanConfig(conflicts="majority"))
    assert list(zip(cleaned.texts, cleaned.labels.tolist(), strict=True)) == [("t", "a")]
    removed = report.removed
    assert removed is not None
    assert removed.select("row", "reason").rows() == [
        (2, "conflicting_labels"),
        (3, "duplicate"),
        (4, "conflicting_labels"),
        (5, "conflicting_labels"),
    ]
    assert "a tie" in removed.get_column("detail")[2]


# -- labels and fill -------------------------------------------------------------------------------


def test_labels_differing_in_case_and_space_merge_into_the_most_frequent_spelling() -> None:
    data = dataset(["1", "2", "3", "4"], ["positive", "Positive ", "positive", "NEG"])
    cleaned, report = clean(data)
    assert cleaned.labels.tolist() == ["positive", "positive", "positive", "NEG"]
    assert report.changed is not None
    assert report.changed.select("row", "column", "reason", "before", "after").rows() == [
        (2, "label", "label_space+label_case", "Positive ", "positive")
    ]


def test_label_map_renames_labels_and_reports_unused_keys() -> None:
    data = dataset(["1", "2"], ["pos", "Neg"])
    config = CleanConfig(label_map={"pos": "positive", "neg": "negative", "neu": "neutral"})
    cleaned, report = clean(data, config)
    assert cleaned.labels.tolist() == ["positive", "negative"]
    assert report.summary["label_map_unused"] == ["neu"]
    assert report.summary["changed"] == {"label_map": 2}


def test_fill_numeric_columns_only() -> None:
    data = dataset(
        ["a", "b", "c", "d"],
        ["x", "y", "x", "y"],
        stars=[1.0, None, 3.0, 4.0],
        votes=[2, 4, None, 9],
    )
    cleaned, report = clean(data, CleanConfig(fill="median"))
    assert cleaned.frame.get_column("stars").to_list() == [1.0, 3.0, 3.0, 4.0]
    assert cleaned.frame.get_column("votes").to_list() == [2, 4, 4, 9]
    assert report.summary["fill"] == {"stars": "3", "votes": "4"}
    assert report.changed is not None
    assert report.changed.filter(pl.col("reason") == "fill").select("row", "column").rows() == [
        (2, "stars"),
        (3, "votes"),
    ]
    mean, _ = clean(data, CleanConfig(fill="mean"))
    assert mean.frame.get_column("stars").to_list()[1] == pytest.approx(8 / 3)
    fixed_value, _ = clean(data, CleanConfig(fill="-1"))
    assert fixed_value.frame.get_column("votes").to_list() == [2, 4, -1, 9]


def test_bad_config_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"clean\.duplicates must be one of none, exact"):
        CleanConfig(duplicates="fuzzy")
    with pytest.raises(ConfigError, match=r"clean\.fill must be one of median, mean, zero or a"):
        CleanConfig(fill="ffill")


# -- nothing lost silently ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["a", "A!", "b", " ", "<br />", "c  c", "d"])),
            st.one_of(st.none(), st.sampled_from(["x", "X", "y", ""])),
        ),
        min_size=1,
        max_size=30,
    ),
    duplicates=st.sampled_from(["none", "exact", "normalized"]),
    conflicts=st.sampled_from(["drop", "majority", "keep"]),
)
def test_rows_in_equal_rows_out_plus_rows_removed(
    rows: list[tuple[str | None, str | None]], duplicates: str, conflicts: str
) -> None:
    data = dataset([t for t, _ in rows], [lb for _, lb in rows])
    cleaned, report = clean(data, CleanConfig(duplicates=duplicates, conflicts=conflicts))
    assert report.removed is not None
    summary = report.summary
    assert summary["rows_in"] == len(rows) == len(cleaned) + report.removed.height
    assert summary["rows_removed"] == report.removed.height == sum(summary["removed"].values())
    kept_and_removed = sorted(report.removed.get_column("row").to_list() + kept_rows(report))
    assert kept_and_removed == list(range(1, len(rows) + 1))


def kept_rows(report: object) -> list[int]:
    removed = set(report.removed.get_column("row").to_list())  # type: ignore[attr-defined]
    total = report.summary["rows_in"]  # type: ignore[attr-defined]
    return [row for row in range(1, total + 1) if row not in removed]


def test_the_input_dataset_is_not_modified() -> None:
    data = dataset(["a<br />b", "a<br />b"], ["x", "x"])
    before = data.frame.clone()
    clean(data)
    assert data.frame.equals(before)


# -- files and streaming --------------------------------------------------------------------------

CSV = (
    "text,label,stars\n"
    '"Great film!<br /><br />Loved it.",pos,5\n'
    '"great film loved it",Pos ,4\n'
    '"Great film!<br /><br />Loved it.",pos,\n'
    '"cafÃ© was   nice &amp; warm",neg,2\n'
    ",neg,1\n"
    '"no label here",,3\n'
    '"Terrible.",neg,1\n'
    '"Terrible.",pos,1\n'
)


def test_clean_file_writes_output_and_siblings(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")
    before = source.read_bytes()
    out = tmp_path / "out" / "clean.csv"
    report = clean_file(source, out)
    assert source.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "clean.changed.csv",
        "clean.clean_report.json",
        "clean.csv",
        "clean.removed.csv",
    ]
    assert out.read_text(encoding="utf-8") == (
        "text,label,stars\n"
        "Great film! Loved it.,pos,5\n"
        "great film loved it,pos,4\n"
        "café was nice & warm,neg,2\n"
    )
    removed = pl.read_csv(out.parent / "clean.removed.csv", infer_schema=False)
    assert removed.select("row", "reason").rows() == [
        ("3", "duplicate"),
        ("5", "missing_text"),
        ("6", "missing_label"),
        ("7", "conflicting_labels"),
        ("8", "conflicting_labels"),
    ]
    assert removed.get_column("text")[0] == "Great film!<br /><br />Loved it."  # as it was
    changed = pl.read_csv(out.parent / "clean.changed.csv", infer_schema=False)
    assert changed.select("row", "column", "reason").rows() == [
        ("1", "text", "html"),
        ("2", "label", "label_space+label_case"),
        ("4", "text", "mojibake+html+whitespace"),
    ]
    summary = json.loads((out.parent / "clean.clean_report.json").read_text())
    assert summary == report.summary
    assert (summary["rows_in"], summary["rows_out"], summary["rows_removed"]) == (8, 3, 5)
    assert summary["html"] == {
        "before": {"rows_with_html": 3, "tags": 4, "entities": 1},
        "after": {"rows_with_html": 0, "tags": 0, "entities": 0},
    }
    assert summary["detected"]["exact_duplicates"] == 2
    assert summary["detected"]["conflicting_labels"] == 1


def test_streaming_in_small_blocks_gives_the_same_files(tmp_path: Path) -> None:
    rows = [f"review {i % 37} <br /> text,{'pos' if i % 3 else 'neg'}" for i in range(600)]
    source = tmp_path / "big.csv"
    source.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    whole = clean_file(source, tmp_path / "a" / "out.csv", CleanConfig(conflicts="majority"))
    blocks = clean_file(
        source, tmp_path / "b" / "out.csv", CleanConfig(conflicts="majority"), block_size=2048
    )
    for name in ("out.csv", "out.removed.csv", "out.changed.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert blocks.summary["rows_out"] == whole.summary["rows_out"] == 37  # the majority label
    assert blocks.summary["rows_in"] == 600


def test_parquet_and_jsonl_in_and_out(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["a &amp; b", "a &amp; b", "c"], "label": [1, 1, 2]})
    frame.write_parquet(tmp_path / "in.parquet")
    clean_file(tmp_path / "in.parquet", tmp_path / "out" / "clean.jsonl")
    lines = (tmp_path / "out" / "clean.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"text": "a & b", "label": "1"},
        {"text": "c", "label": "2"},
    ]


def test_an_output_that_is_a_directory_writes_no_side_file(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")
    (tmp_path / "out" / "a.csv").mkdir(parents=True)
    with pytest.raises(ArtifactError, match=r"a\.csv is a directory; give the output a file"):
        clean_file(source, tmp_path / "out" / "a.csv")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.csv"]


def test_two_outputs_in_one_folder_keep_their_own_records(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")
    first = clean_file(source, tmp_path / "out" / "a.csv")
    second = clean_file(source, tmp_path / "out" / "b.csv.gz", CleanConfig(duplicates="none"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.changed.csv",
        "a.clean_report.json",
        "a.csv",
        "a.removed.csv",
        "b.changed.csv",
        "b.clean_report.json",
        "b.csv.gz",
        "b.removed.csv",
    ]
    for name, report in (("a", first), ("b", second)):
        summary = json.loads((tmp_path / "out" / f"{name}.clean_report.json").read_text())
        assert summary == report.summary
        assert summary["files"] == {
            "removed": f"{name}.removed.csv",
            "changed": f"{name}.changed.csv",
        }
    reasons = [
        pl.read_csv(tmp_path / "out" / f"{name}.removed.csv").get_column("reason").to_list()
        for name in ("a", "b")
    ]
    assert reasons[0] == ["duplicate", *reasons[1]]  # b kept the duplicate: a's record is intact


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("d/x.csv", ["d/x.removed.csv", "d/x.changed.csv", "d/x.label_issues.csv"]),
        ("x.jsonl.gz", ["x.removed.csv", "x.changed.csv", "x.label_issues.csv"]),
        (
            "my.data.parquet",
            ["my.data.removed.csv", "my.data.changed.csv", "my.data.label_issues.csv"],
        ),
        ("noext", ["noext.removed.csv", "noext.changed.csv", "noext.label_issues.csv"]),
    ],
)
def test_side_files_are_named_after_the_output(out: str, expected: list[str]) -> None:
    found = side_files(out)
    assert [found["removed"], found["changed"], found["label_issues"]] == [
        Path(e) for e in expected
    ]
    assert found["report"] == Path(expected[0].replace("removed.csv", "clean_report.json"))


def test_clean_file_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")
    with pytest.raises(DataError, match="would overwrite the input"):
        clean_file(source, source)
    assert source.read_text(encoding="utf-8") == CSV


def test_a_failed_clean_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('text,label\nok,a\n"broken,b\n', encoding="utf-8")
    with pytest.raises(DataError):
        clean_file(source, tmp_path / "out" / "clean.csv")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


# -- label issues ----------------------------------------------------------------------------------


def test_confident_learning_flags_confident_disagreements() -> None:
    targets = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    issues, guess = confident_learning(targets, probs)
    assert issues.tolist() == [False, False, True, False, False, True]
    assert guess[[2, 5]].tolist() == [1, 0]


def test_confident_learning_matches_cleanlab() -> None:
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        probs = rng.dirichlet(np.ones(k) * 0.7, size=400)
        targets = np.where(rng.random(400) < 0.8, probs.argmax(axis=1), rng.integers(0, k, 400))
        ours, _ = confident_learning(targets, probs)
        theirs = cleanlab_filter.find_label_issues(
            targets, probs, filter_by="confident_learning", n_jobs=1
        )
        assert ours.sum() > 0
        assert ours.tolist() == theirs.tolist()


def test_find_label_issues_finds_planted_flips() -> None:
    good = [f"wonderful great lovely film number {i}" for i in range(30)]
    bad = [f"awful terrible boring film number {i}" for i in range(30)]
    texts = good + bad
    labels = np.array(["pos"] * 30 + ["neg"] * 30)
    labels[[3, 40]] = ["neg", "pos"]
    issues = find_label_issues(texts, labels, folds=5, seed=0)
    assert sorted(issues.get_column("position").to_list()) == [3, 40]
    assert issues.filter(pl.col("position") == 3).get_column("suggested").to_list() == ["pos"]


def test_label_issues_are_reported_and_dropped_only_when_asked(tmp_path: Path) -> None:
    good = [f"wonderful great lovely film number {i}" for i in range(30)]
    bad = [f"awful terrible boring film number {i}" for i in range(30)]
    labels = ["pos"] * 30 + ["neg"] * 30
    labels[3] = "neg"
    data = dataset(good + bad, labels)
    kept, report = clean(data, CleanConfig(find_label_issues=True))
    assert len(kept) == 60
    assert report.label_issues is not None
    assert report.label_issues.get_column("row").to_list() == [4]
    assert report.summary["label_issues"]["found"] == 1
    dropped, report = clean(data, CleanConfig(drop_label_issues=True))
    assert len(dropped) == 59
    assert report.summary["removed"]["label_issue"] == 1
