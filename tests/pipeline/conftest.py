"""One small run, made once, copied for each test that changes it."""

import shutil
from pathlib import Path

import polars as pl
import pytest

from modelcycle.config import PipelineConfig
from modelcycle.pipeline import run
from tests.conftest import NEGATIVE, POSITIVE


def tiny_config(data: Path, **train: object) -> PipelineConfig:
    return PipelineConfig.from_dict(
        {
            "data": {"path": str(data)},
            "split": {"test": 0.25, "val": 0.25},
            "train": {"params": {"min_df": 1, **train}},
            "quantize": {"enabled": True, "precisions": ["int8"], "latency_texts": 3},
        }
    )


@pytest.fixture(scope="session")
def made_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with the quantize stage, on the 24 reviews of tests/conftest.py."""
    root = tmp_path_factory.mktemp("made-run")
    texts = [t for pair in zip(POSITIVE, NEGATIVE, strict=True) for t in pair]
    data = root / "reviews.csv"
    pl.DataFrame({"review_text": texts, "sentiment": ["positive", "negative"] * 12}).write_csv(data)
    return run(tiny_config(data), root / "run").path


@pytest.fixture
def run_copy(made_run: Path, tmp_path: Path) -> Path:
    """A copy of ``made_run`` to change."""
    return Path(shutil.copytree(made_run, tmp_path / "run"))
