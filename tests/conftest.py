"""Shared fixtures: a tiny hand-written review corpus and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app

POSITIVE = [
    "A wonderful film with a great cast",
    "I loved every minute, truly great",
    "Brilliant acting and a wonderful story",
    "Great fun, I loved the music",
    "A moving, brilliant and beautiful film",
    "Beautiful images and a great score",
    "Wonderful, funny and warm",
    "One of the best films this year, loved it",
    "Brilliant, great, wonderful",
    "A beautiful story told with great care",
    "Loved the characters, a wonderful ride",
    "Great direction and brilliant dialogue",
]
NEGATIVE = [
    "A boring film with a terrible plot",
    "I hated every minute, truly awful",
    "Awful acting and a boring story",
    "Terrible fun-free mess, I hated the music",
    "A dull, awful and tedious film",
    "Tedious images and a terrible score",
    "Boring, awful and cold",
    "One of the worst films this year, hated it",
    "Awful, terrible, boring",
    "A dull story told with no care",
    "Hated the characters, a tedious ride",
    "Terrible direction and awful dialogue",
]


@pytest.fixture(autouse=True)
def mlflow_environment_left_as_found() -> Iterator[None]:
    """MLflow exports MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID when a run is logged, and
    ``--track`` reads the first: a test that tracks must not leave its (stopped) server as
    every later CLI test's tracking store."""
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[key]
    os.environ.update(before)


@pytest.fixture
def reviews() -> pl.DataFrame:
    """24 reviews: columns review_text, sentiment, stars (12 positive, 12 negative)."""
    texts = [t for pair in zip(POSITIVE, NEGATIVE, strict=True) for t in pair]
    labels = ["positive", "negative"] * len(POSITIVE)
    stars = [5, 1] * len(POSITIVE)
    return pl.DataFrame({"review_text": texts, "sentiment": labels, "stars": stars})


@pytest.fixture
def reviews_csv(tmp_path: Path, reviews: pl.DataFrame) -> Path:
    """The tiny corpus as ``reviews.csv``."""
    path = tmp_path / "reviews.csv"
    reviews.write_csv(path)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def model(tmp_path: Path, runner: CliRunner, reviews_csv: Path) -> Path:
    """A logreg model directory trained on ``reviews_csv`` through the CLI."""
    path = tmp_path / "model"
    result = runner.invoke(app, ["train", str(reviews_csv), "-o", str(path), "-p", "min_df=1"])
    assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT as a local Hugging Face model directory (needs the transformer extra)."""
    pytest.importorskip("transformers", reason="the transformer extra is not installed")
    from tests.tiny_bert import make_tiny_backbone

    return make_tiny_backbone(tmp_path_factory.mktemp("tiny-bert"))
