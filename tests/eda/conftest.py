"""Small hand-written corpora whose figures can be checked by another route."""

from __future__ import annotations

import polars as pl
import pytest

from modelcycle.data import Dataset

# Three labels; repeated phrases so that bigram and trigram counts are not all 1; punctuation,
# capitals, one-letter words, digits and accents to exercise the tokens.
CORPUS = [
    ("The plot was great and the cast was great.", "pos"),
    ("A great film: the cast, the music, the plot!", "pos"),
    ("I loved it. Loved the cast and loved the music.", "pos"),
    ("The plot was awful and the cast was awful.", "neg"),
    ("An awful film; the plot made no sense at all.", "neg"),
    ("I hated it, hated the plot and the music", "neg"),
    ("The film was fine, the cast was fine, 7 out of 10.", "meh"),
    ("Fine. Not great, not awful: a café film, naïve but fine.", "meh"),
]


@pytest.fixture
def corpus() -> Dataset:
    texts, labels = zip(*CORPUS, strict=True)
    return Dataset.from_records(list(texts), list(labels), source="corpus.csv")


@pytest.fixture
def messy() -> Dataset:
    """Duplicates, near-duplicates, conflicts, blanks, quality problems and a numeric column."""
    rows = [
        ("Great film", "pos", 5),  # 1
        ("great   film!", "pos", 4),  # 2: normalized duplicate of 1
        ("Great film", "pos", 5),  # 3: exact duplicate of 1
        ("Bad film", "pos", 2),  # 4
        ("Bad film", "neg", 1),  # 5: exact duplicate of 4, conflicting label
        ("", "neg", None),  # 6: empty
        ("   ", "neg", 1),  # 7: whitespace only
        (None, "neg", 2),  # 8: missing
        ("See https://example.com <br /> now", "neg", 3),  # 9: url + html
        ("WORST MOVIE EVER", "neg", 1),  # 10: all caps
        ("sooooo boring!!!!", "neg", 1),  # 11: repeated characters
        ("Bad film", "neg", 1),  # 12: exact duplicate of 4 (label neg again)
    ]
    frame = pl.DataFrame(
        {
            "text": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "stars": [r[2] for r in rows],
        },
        schema={"text": pl.String, "label": pl.String, "stars": pl.Int64},
    )
    return Dataset(frame, "text", "label", "messy.csv")
