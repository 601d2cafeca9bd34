"""The document map against scikit-learn's TF-IDF of the models' tokens and an exact SVD."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from modelcycle.eda._map import document_map
from modelcycle.eda._stopwords import STOP_WORDS
from modelcycle.features import tokens_of

TEXTS = [
    "The film's plot is good",
    "The film's cast is good, 2 stars",
    "2 stars: a bad plot!",
    "Bad cast, bad plot",
    "Good cast, good plot",
    "A bad film?",
]


def test_the_map_is_the_svd_of_the_tfidf_of_the_models_tokens() -> None:
    points = document_map(TEXTS, seed=0)
    vectorizer = TfidfVectorizer(
        tokenizer=lambda text: [t for t in tokens_of(text) if t not in STOP_WORDS],
        token_pattern=None,
        lowercase=False,
        sublinear_tf=True,
        min_df=2,
    )
    matrix = vectorizer.fit_transform(TEXTS).toarray()
    # words of the models' tokens that scikit-learn's default pattern would not find
    assert {"film's", "2"} <= set(vectorizer.vocabulary_)
    u, s, _ = np.linalg.svd(matrix, full_matrices=False)
    assert s[1] - s[2] > 0.05  # the first two components are well defined
    assert points is not None
    # a component's sign is a convention: compare up to it
    assert np.allclose(np.abs(points), np.abs(u[:, :2] * s[:2]), atol=1e-4)
