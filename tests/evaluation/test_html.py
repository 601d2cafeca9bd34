"""The reports in a real browser: headless Chromium loads every image and shows every section.

Skipped, with the reason, where Chromium is not installed (``apt-get install -y chromium``). Set
MODELCYCLE_SCREENSHOTS=DIR to keep the screenshots it takes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelcycle.config import EvalConfig
from modelcycle.data import Dataset, load_dataset
from modelcycle.evaluation import compare, evaluate_predictions
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.postprocess import Postprocess, Threshold
from tests.browser import needs_chromium, probe, screenshot

pytestmark = needs_chromium


def noisy_reviews(reviews_csv: Path) -> Dataset:
    """The tiny corpus twice, the second time with a third of the labels flipped."""
    data = load_dataset(reviews_csv)
    flipped = [
        ("negative" if label == "positive" else "positive") if i % 3 == 0 else label
        for i, label in enumerate(data.labels.tolist())
    ]
    texts = data.texts * 2
    labels = data.labels.tolist() + flipped
    return Dataset.from_records(texts, labels, source="reviews.csv")


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_every_image_loads_and_every_section_shows(
    tmp_path: Path, reviews_csv: Path, kind: str
) -> None:
    if kind == "binary":
        data = noisy_reviews(reviews_csv)
        classes = ["negative", "positive"]
        post = Postprocess(1.7, Threshold("positive", 0.45, "f1"), {"data": "val.csv", "rows": 9})
    else:
        rng = np.random.default_rng(0)
        labels = rng.choice(["drama", "comedy", "horror", "documentary"], size=200)
        data = Dataset.from_records([f"text {i}" for i in range(200)], labels.tolist())
        classes = ["comedy", "documentary", "drama", "horror"]
        post = None
    rng = np.random.default_rng(1)
    truth = np.searchsorted(classes, data.labels)
    logits = rng.normal(0, 1, size=(len(data), len(classes)))
    logits[np.arange(len(data)), truth] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    report = evaluate_predictions(data, proba, classes, postprocess=post, model_name=kind)
    out = report.write(tmp_path / kind)
    result = probe(tmp_path, out / "evaluation.html")
    threshold = ["threshold"] if kind == "binary" else []  # a 2-label model's threshold
    sections = [
        *("headline", "classes", "confusion", "curves", "calibration"),
        *threshold,
        *("errors", "slices"),
    ]
    images = result["images"]
    assert isinstance(images, list)
    assert len(images) == (4 if kind == "binary" else 3)
    assert [i["alt"] for i in images if not i["ok"]] == []
    assert [s["id"] for s in result["found"]] == sections  # type: ignore[attr-defined]
    assert all(s["visible"] for s in result["found"])  # type: ignore[attr-defined]
    assert result["links"] == [f"#{s}" for s in sections]
    assert not result["wide"], "the page scrolls sideways at 1280 px"
    screenshot(tmp_path, out / "evaluation.html", f"evaluation-{kind}.png")


def test_comparison_page_shows(tmp_path: Path, reviews_csv: Path) -> None:
    data = noisy_reviews(reviews_csv)
    a = TfidfLogisticRegression(min_df=1).fit(data.texts[:24], data.labels[:24])
    b = TfidfLogisticRegression(min_df=1).fit(data.texts[:12], data.labels[:12])
    out = compare(a, b, data, EvalConfig(bootstrap=200), names=("full", "half")).write(
        tmp_path / "cmp"
    )
    result = probe(tmp_path, out / "comparison.html")
    assert [s["id"] for s in result["found"]] == ["models", "test", "disagreements"]  # type: ignore[attr-defined]
    assert not result["wide"]
    screenshot(tmp_path, out / "comparison.html", "comparison.png")
