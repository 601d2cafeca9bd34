"""The report's figures on small hand-written data, checked against plain Python and numpy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modelcycle.data import Dataset
from modelcycle.eda import EdaReport, _counts, _profile, profile
from modelcycle.features import tokens_of
from tests.eda.conftest import CORPUS


def describe(values: list[float]) -> dict[str, float]:
    """What pandas' describe() gives, by numpy (sample std, linear quantiles)."""
    a = np.asarray(values, dtype=float)
    return {
        "count": len(a),
        "mean": round(a.mean(), 4),
        "std": round(a.std(ddof=1), 4),
        "min": a.min(),
        "p25": round(np.percentile(a, 25), 4),
        "p50": round(np.percentile(a, 50), 4),
        "p75": round(np.percentile(a, 75), 4),
        "max": a.max(),
    }


def words(text: str) -> int:
    """The models' tokens of ``text`` that are words (not ! or ?)."""
    return len([token for token in tokens_of(text) if token not in ("!", "?")])


def test_length_statistics_overall_and_per_label(corpus: Dataset) -> None:
    data = profile(corpus).data
    texts = [t for t, _ in CORPUS]
    assert data["length"]["chars"] == describe([len(t) for t in texts])
    assert data["length"]["words"] == describe([words(t) for t in texts])
    for label in ("pos", "neg", "meh"):
        mine = [t for t, lab in CORPUS if lab == label]
        assert data["length_by_label"][label]["chars"] == describe([len(t) for t in mine])
        assert data["length_by_label"][label]["words"] == describe([words(t) for t in mine])


def test_labels_shares_and_imbalance(messy: Dataset) -> None:
    data = profile(messy).data
    assert data["labels"] == {"neg": 8, "pos": 4}
    assert list(data["labels"]) == ["neg", "pos"]  # largest first
    assert data["label_shares"] == {"neg": round(8 / 12, 6), "pos": round(4 / 12, 6)}
    assert data["imbalance_ratio"] == 2.0


def test_duplicates_conflicts_and_blanks(messy: Dataset) -> None:
    data = profile(messy).data
    assert data["rows"] == 12
    # rows 3 (= row 1), 5 and 12 (= row 4)
    assert data["duplicates"] == 3
    assert data["duplicate_texts"] == 2
    assert data["duplicate_examples"][0] == {"row": 4, "copies": 3, "text": "Bad film"}
    # ... plus row 2 (= row 1 ignoring case, spaces and '!') and rows 7, 8 (blank = row 6's '')
    assert data["normalized_duplicates"] == 6
    assert data["normalized_duplicate_examples"][0]["row"] == 2
    assert data["normalized_duplicate_examples"][0]["same_as_row"] == 1
    # 'Bad film' is both pos (row 4) and neg (rows 5 and 12)
    assert data["conflicting_labels"] == 1
    assert data["conflicting_rows"] == 3
    assert data["conflict_examples"] == [
        {"row": 4, "text": "Bad film", "labels": {"neg": 2, "pos": 1}}
    ]
    assert data["normalized_conflicting_labels"] == 1
    assert {k: data["blank"][k] for k in ("count", "missing", "empty", "whitespace_only")} == {
        "count": 3,
        "missing": 1,
        "empty": 1,
        "whitespace_only": 1,
    }
    assert [e["row"] for e in data["blank"]["examples"]] == [6, 7, 8]


def test_missing_values_columns_and_numeric_columns(messy: Dataset) -> None:
    data = profile(messy).data
    assert data["missing"] == {"text": 1, "label": 0, "stars": 1}
    assert data["columns"] == {"text": "String", "label": "String", "stars": "Int64"}
    assert data["numeric"]["stars"] == describe([5, 4, 5, 2, 1, 1, 2, 3, 1, 1, 1])


def test_short_and_long_texts(messy: Dataset) -> None:
    data = profile(messy).data
    # fewer than 3 words: rows 1-5 and 12 ('great film', 'bad film') and 11 ('sooooo boring')
    assert data["short_texts"]["count"] == 7
    assert [e["row"] for e in data["short_texts"]["examples"]] == [1, 2, 3]
    texts = [f"word {'x' * n}" for n in (10, 11, 12, 13, 14, 15, 16, 17)] + ["y " * 400]
    long = profile(Dataset.from_records(texts, ["a"] * len(texts))).data["long_texts"]
    chars = np.array([len(t) for t in texts if t.strip()], dtype=float)
    q1, q3 = np.percentile(chars, [25, 75])
    assert long["threshold_chars"] == int(q3 + 3 * (q3 - q1))
    assert long["count"] == 1
    assert long["examples"][0]["row"] == 9


@pytest.mark.parametrize(
    ("check", "rows"),
    [
        ("url", [9]),
        ("html", [9]),
        ("all_caps", [10]),
        ("repeated_chars", [11]),
        ("email", []),
        ("mojibake", []),
    ],
)
def test_quality_counts_and_examples(messy: Dataset, check: str, rows: list[int]) -> None:
    found = profile(messy).data["quality"][check]
    assert found["count"] == len(rows)
    assert [e["row"] for e in found["examples"]] == rows
    assert found["share"] == round(len(rows) / 12, 6)


def test_examples_are_centred_on_the_problem() -> None:
    text = "x" * 500 + " write to ann@example.org " + "y" * 500
    found = profile(Dataset.from_records([text], ["a"])).data["quality"]["email"]
    snippet = found["examples"][0]["text"]
    assert "ann@example.org" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")


def test_compare_overlap_label_and_length_shift(corpus: Dataset) -> None:
    other_texts = [CORPUS[0][0], CORPUS[1][0].upper(), "Something new entirely, zebra"]
    other = Dataset.from_records(other_texts, ["pos", "pos", "neg"], source="other.csv")
    result = profile(corpus, compare=other).data["compare"]
    assert result["rows"] == 3
    assert result["overlap"]["exact_rows"] == 1
    assert result["overlap"]["normalized_rows"] == 2
    assert [e["row"] for e in result["overlap"]["examples"]] == [1]
    shares = result["label_shift"]["shares"]
    assert shares["pos"] == [round(3 / 8, 6), round(2 / 3, 6)]
    assert shares["meh"] == [round(2 / 8, 6), 0.0]
    expected_tv = (abs(3 / 8 - 2 / 3) + abs(3 / 8 - 1 / 3) + abs(2 / 8 - 0)) / 2
    assert result["label_shift"]["total_variation"] == pytest.approx(expected_tv, abs=1e-5)
    assert result["label_shift"]["only_in_data"] == ["meh"]
    # 'something', 'new', 'entirely', 'zebra' never occur in the corpus
    assert result["vocabulary"]["unseen_tokens"] == 4
    assert result["vocabulary"]["unseen_words"] == 4
    assert result["length_shift"]["chars"]["other"]["count"] == 3
    assert 0 < result["length_shift"]["words"]["ks_statistic"] <= 1


def test_unlabelled_data_has_no_label_parts() -> None:
    data = profile(Dataset.from_records(["a good film", "a bad film", "fine"])).data
    assert data["labels"] == {}
    assert data["ngrams_by_label"] == {}
    assert data["distinctive"] == {}
    # one-letter words are tokens, as the models see them
    assert data["ngrams"]["2"] == [["a bad", 1], ["a good", 1], ["bad film", 1], ["good film", 1]]


def test_json_is_plain_and_the_report_does_not_share_state(corpus: Dataset) -> None:
    report = profile(corpus, compare=corpus)
    text = json.dumps(report.to_json(), allow_nan=False)
    assert json.loads(text)["rows"] == 8
    copy = report.to_json()
    copy["rows"] = -1
    assert report.to_json()["rows"] == 8


def test_write_is_atomic_and_self_contained(corpus: Dataset, tmp_path: Path) -> None:
    out = profile(corpus, compare=corpus).write(tmp_path / "eda")
    assert sorted(p.name for p in out.iterdir()) == ["eda.html", "eda.json"]
    html = (out / "eda.html").read_text(encoding="utf-8")
    assert "http://" not in html
    assert "https://" not in html.replace("https://example", "")
    images = html.count('src="data:image/png;base64,') + html.count('src="data:image/svg+xml;')
    assert html.count("<img ") == images >= 6
    for anchor in (
        "overview",
        "labels",
        "lengths",
        "words",
        "ngrams",
        "distinctive",
        "map",
        "quality",
        "compare",
        "method",
    ):
        assert f'<section id="{anchor}">' in html
    again = profile(corpus).write(tmp_path / "eda")  # ours: replaced
    assert "compare" not in json.loads((again / "eda.json").read_text())


def test_the_same_seed_gives_the_same_report(corpus: Dataset) -> None:
    first, second = profile(corpus, seed=3), profile(corpus, seed=3)
    assert first.to_json() == second.to_json()
    assert isinstance(first, EdaReport)


def test_rows_without_a_label_are_counted_apart() -> None:
    frame = pl.DataFrame(
        {
            "text": ["good film", "bad film", "no idea", "great film"],
            "label": ["p", "n", None, "p"],
        },
        schema={"text": pl.String, "label": pl.String},
    )
    data = profile(Dataset(frame, "text", "label", "partial.csv")).data
    assert data["labels"] == {"p": 2, "n": 1}
    assert data["missing_labels"] == 1
    assert data["missing"]["label"] == 1
    assert data["length_by_label"]["(no label)"]["words"]["count"] == 1
    assert data["ngrams_by_label"]["(no label)"]["2"] == [["no idea", 1]]


def many_labels(n: int) -> Dataset:
    """``n`` labels, one row each, plus two more rows of each of the first three (the largest)."""
    texts = [f"film number w{i} was seen" for i in range(n)]
    texts += ["great film", "great film", "bad film", "bad film", "bad", "bad"]
    labels = [f"L{i:04d}" for i in range(n)] + [f"L000{i // 2}" for i in range(6)]
    return Dataset.from_records(texts, labels, source="many.csv")


def test_many_labels_are_counted_in_a_bounded_table(monkeypatch: pytest.MonkeyPatch) -> None:
    widths: list[int] = []

    class Spy(_profile.Counter):
        def table(self, order: int) -> _counts.GramTable:
            found = super().table(order)
            widths.append(found.counts.shape[1])
            return found

    monkeypatch.setattr(_profile, "Counter", Spy)
    data = profile(many_labels(3000), max_labels=20).data
    assert set(widths) == {21}  # 20 labels and one column for the 2,980 others
    assert len(data["labels"]) == 3000
    assert list(data["labels"])[:3] == ["L0000", "L0001", "L0002"]
    assert data["other_labels"] == {"count": 2980, "rows": 2980}
    detailed = list(data["labels"])[:20]
    for per_label in ("ngrams_by_label", "length_by_label", "distinctive", "distinctive_by_n"):
        assert list(data[per_label]) == detailed, per_label
    assert data["ngrams_by_label"]["L0000"]["2"][0] == ["great film", 2]


def test_per_label_figures_do_not_depend_on_the_labels_left_out(corpus: Dataset) -> None:
    everything = profile(corpus).data
    two = profile(corpus, max_labels=2).data
    assert list(two["distinctive"]) == ["neg", "pos"]
    assert two["other_labels"] == {"count": 1, "rows": 2}
    assert everything["other_labels"] == {"count": 0, "rows": 0}
    for per_label in ("ngrams_by_label", "length_by_label", "distinctive", "distinctive_by_n"):
        assert two[per_label] == {k: everything[per_label][k] for k in ("neg", "pos")}


def test_the_page_lists_the_largest_labels_and_says_how_many_are_left_out() -> None:
    html = profile(many_labels(3000)).to_html()
    assert "(2,970 more labels)" in html  # the label table: the largest 30, then the rest
    assert html.count("<td>L0") == 30 + 2 * 20  # label table; 20 labels in both length tables
    # n-grams and distinctive n-grams (3 orders each) of 20 labels, word clouds of 8
    assert html.count("<h3>L0") == 20 * 3 * 2 + 8
    assert (
        "Per-label lengths, n-grams, distinctive n-grams and plots cover the 20 largest labels; "
        "the other 2,980 labels (2,980 rows) are left out of them"
    ) in html
