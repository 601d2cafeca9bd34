"""evaluate(): the report's content, error analysis and slices on hand-made data."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modelcycle.config import EvalConfig
from modelcycle.data import Dataset, load_dataset
from modelcycle.evaluation import CONFUSION_LABELS, EvalReport, evaluate, evaluate_predictions
from modelcycle.exceptions import SchemaError
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.postprocess import Postprocess, Threshold

CLASSES = ["neg", "pos"]


def dataset() -> Dataset:
    """Six rows of 1, 2, 3, 4, 5 and 6 words, with a genre and a numeric score column."""
    frame = pl.DataFrame(
        {
            "text": ["a", "a b", "a b c", "a b c d", "a b c d e", "a b c d e f"],
            "label": ["pos", "neg", "pos", "neg", "pos", "neg"],
            "genre": ["drama", "drama", None, "comedy", "drama", "comedy"],
        }
    )
    return Dataset(frame, "text", "label", "six.csv")


# Probabilities of "pos": rows 2 and 6 are mistakes (0.9 and 0.6), the rest right.
POS = np.array([0.8, 0.9, 0.55, 0.3, 0.7, 0.6])
PROBA = np.column_stack([1 - POS, POS])


def test_examples_are_the_most_confident_mistakes_and_least_confident_hits() -> None:
    report = evaluate_predictions(dataset(), PROBA, CLASSES, EvalConfig(examples=2))
    found = report.metrics["examples"]
    mistakes = found["most_confident_mistakes"]
    assert [(e["row"], e["text"], e["label"], e["predicted"]) for e in mistakes] == [
        (2, "a b", "neg", "pos"),
        (6, "a b c d e f", "neg", "pos"),
    ]
    assert mistakes[0]["confidence"] == pytest.approx(0.9)
    assert mistakes[0]["label_probability"] == pytest.approx(0.1)
    assert [e["row"] for e in found["least_confident_correct"]] == [3, 4]


def test_accuracy_by_length_and_by_column() -> None:
    config = EvalConfig(length_buckets=3, slices=("genre",))
    m = evaluate_predictions(dataset(), PROBA, CLASSES, config).metrics
    assert [(g["value"], g["n"], g["accuracy"]) for g in m["by_length"]] == [
        ("1–2 words", 2, 0.5),
        ("3–4 words", 2, 1.0),
        ("5–6 words", 2, 0.5),
    ]
    assert m["by_length"][0]["ci95"] == pytest.approx([0.0945, 0.9055], abs=1e-4)  # Wilson 1/2
    genre = [(g["value"], g["n"], g["accuracy"]) for g in m["slices"]["genre"]]
    assert genre == [("drama", 3, 2 / 3), ("comedy", 2, 0.5), ("(missing)", 1, 1.0)]


def test_numeric_columns_with_many_values_are_bucketed_and_big_ones_capped() -> None:
    n = 100
    frame = pl.DataFrame(
        {
            "text": ["x"] * n,
            "label": ["pos"] * n,
            "score": np.arange(n, dtype=np.float64),
            "user": [f"u{i % 25:02d}" for i in range(n)],
        }
    )
    data = Dataset(frame, "text", "label", "big.csv")
    pos_first_half = np.r_[np.ones(50), np.zeros(50)]  # right on the first 50 rows only
    proba = np.column_stack([1 - pos_first_half, pos_first_half])
    config = EvalConfig(length_buckets=4, slices=("score", "user"))
    m = evaluate_predictions(data, proba, CLASSES, config).metrics
    assert [(g["value"], g["n"], g["accuracy"]) for g in m["slices"]["score"]] == [
        ("0–24", 25, 1.0),
        ("25–49", 25, 1.0),
        ("50–74", 25, 0.0),
        ("75–99", 25, 0.0),
    ]
    users = m["slices"]["user"]
    assert len(users) == 21
    assert users[0]["value"] == "u00"
    assert users[0]["n"] == 4
    assert (users[-1]["value"], users[-1]["n"], users[-1]["accuracy"]) == (
        "(other 5 values)",
        20,
        0.5,
    )


def test_post_processing_changes_the_answers_and_raw_figures_stay_beside() -> None:
    post = Postprocess(temperature=2.0, threshold=Threshold("pos", 0.65, "f1"))
    m = evaluate_predictions(dataset(), PROBA, CLASSES, postprocess=post).metrics
    # Calibrated P(pos) at T=2: at least 0.65 only for rows 1 and 2 (0.8 -> 0.667, 0.9 -> 0.75;
    # 0.7 -> 0.604), so rows 1, 4 and 6 are right; raw, rows 1, 3, 4 and 5.
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["raw"]["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"]["matrix"] == [[2, 1], [2, 1]]
    assert m["raw"]["confusion_matrix"]["matrix"] == [[1, 2], [0, 3]]
    assert m["postprocess"]["threshold"] == {"label": "pos", "value": 0.65, "metric": "f1"}
    assert m["log_loss"] != pytest.approx(m["raw"]["log_loss"])
    plain = evaluate_predictions(dataset(), PROBA, CLASSES).metrics
    assert plain["postprocess"] is None
    assert "raw" not in plain


def test_evaluate_writes_json_and_html(tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1).fit(data.texts, data.labels)
    report = evaluate(model, data, EvalConfig(slices=("stars",)), model_name="tiny")
    assert isinstance(report, EvalReport)
    report.write(tmp_path / "eval")
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["accuracy"] == 1.0
    assert written["model"] == "tiny"
    for key in (
        "n",
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "per_class",
        "confusion_matrix",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "ece",
        "accuracy_ci95",
        "baselines",
        "calibration",
        "examples",
        "by_length",
        "slices",
    ):
        assert key in written
    assert [g["value"] for g in written["slices"]["stars"]] == ["1", "5"]
    page = (tmp_path / "eval" / "evaluation.html").read_text()
    for section in ("headline", "classes", "confusion", "curves", "calibration", "threshold"):
        assert f'<section id="{section}">' in page
    assert page.count("<img ") == 4  # confusion, curves, reliability, threshold
    assert "Evaluation of tiny" in page


def test_a_missing_slice_column_is_refused_before_predicting(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1).fit(data.texts, data.labels)
    with pytest.raises(
        SchemaError,
        match=r"reviews.csv: slice column 'genre' not found; columns are: review_text, sentiment",
    ):
        evaluate(model, data, EvalConfig(slices=("genre",)))


def test_multiclass_report_has_one_vs_rest_curves_and_no_threshold() -> None:
    texts = ["good fun", "bad dull", "so so", "good great", "bad awful", "so average"] * 3
    labels = ["pos", "neg", "mid"] * 6
    model = TfidfLogisticRegression(min_df=1).fit(texts, labels)
    report = evaluate(model, Dataset.from_records(texts, labels))
    page = report.to_html()
    assert '<section id="threshold">' not in page
    assert "one-vs-rest" in page
    assert report.metrics["positive_label"] is None


def test_thousands_of_labels_give_a_bounded_confusion_matrix(tmp_path: Path) -> None:
    k = 3_000
    names = [f"label{i:04d}" for i in range(k)]
    # label0000 has 3 rows, label0001..0039 2, the others 1: the 30 with the most rows are
    # label0000..0029. Every row is answered right but for one of label0000 (as label2999).
    truth = names[:1] + names[:40] + names
    answer = np.searchsorted(names, truth)
    answer[0] = k - 1
    proba = np.zeros((len(truth), k), dtype=np.float32)
    proba[np.arange(len(truth)), answer] = 1.0
    data = Dataset.from_records([f"text {i}" for i in range(len(truth))], truth)
    report = evaluate_predictions(data, proba, names, EvalConfig(bootstrap=0))
    report.write(tmp_path / "eval")
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    confusion = written["confusion_matrix"]
    assert confusion["labels"] == [*names[:CONFUSION_LABELS], "(other 2,970 labels)"]
    assert confusion["folded"] == names[CONFUSION_LABELS:]
    matrix = np.array(confusion["matrix"])
    assert matrix.shape == (CONFUSION_LABELS + 1, CONFUSION_LABELS + 1)
    assert matrix[0].tolist() == [2] + [0] * (CONFUSION_LABELS - 1) + [1]
    assert matrix[1].tolist() == [0, 2] + [0] * (CONFUSION_LABELS - 1)
    assert matrix[-1, -1] == len(truth) - 3 - 2 * (CONFUSION_LABELS - 1)
    assert matrix.sum() == len(truth)
    assert len(written["per_class"]) == k
    assert written["per_class"]["label0000"]["recall"] == pytest.approx(2 / 3)
    assert np.array(written["confusion_matrix_normalized"]["matrix"]).shape == matrix.shape
    page = (tmp_path / "eval" / "evaluation.html").read_text()
    assert "the other 2,970 are added up in the last row and column" in page
    assert page.count("(other 2,970 labels)") == 2  # the table's last row and column
