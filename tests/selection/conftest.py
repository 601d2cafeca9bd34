"""A small made-up corpus that the fast families learn in well under a second."""

from __future__ import annotations

import numpy as np
import pytest

from modelcycle.data import Dataset

GOOD = ["great", "wonderful", "brilliant", "moving", "fun", "beautiful", "warm", "loved"]
BAD = ["awful", "boring", "dull", "tedious", "terrible", "cold", "hated", "mess"]
NEUTRAL = ["film", "plot", "cast", "music", "story", "score", "ending", "scene", "the", "a"]


@pytest.fixture
def corpus() -> Dataset:
    """160 reviews of 6 words: 2 sentiment words (one of them misleading in 15% of rows)."""
    rng = np.random.default_rng(7)
    texts, labels = [], []
    for i in range(160):
        positive = i % 2 == 0
        own, other = (GOOD, BAD) if positive else (BAD, GOOD)
        words = [*rng.choice(NEUTRAL, 4), rng.choice(own)]
        words.append(rng.choice(other if rng.random() < 0.15 else own))
        texts.append(" ".join(rng.permutation(words)))
        labels.append("positive" if positive else "negative")
    return Dataset.from_records(texts, labels, source="corpus.csv")
