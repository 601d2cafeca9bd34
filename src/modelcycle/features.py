"""Text features: the tokenisation and TF-IDF weighting that models train with and serving reuses.

A featurizer's learned state is plain data (a vocabulary list and an idf array), so that it is
saved as JSON and safetensors and rebuilt exactly at load time, in training or in serving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["TOKEN_PATTERN", "TfidfFeaturizer"]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""Word tokens: runs of two or more word characters (scikit-learn's default), lower-cased."""


@dataclass(frozen=True)
class TfidfFeaturizer:
    """TF-IDF over lower-cased word n-grams, L2-normalised rows.

    Example::

        featurizer = TfidfFeaturizer(ngram_range=(1, 2)).fit(["a good film", "a bad film"])
        X = featurizer.transform(["good"])   # scipy CSR matrix, one row per text
    """

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 1
    max_features: int | None = None
    sublinear_tf: bool = True
    vectorizer: TfidfVectorizer | None = None

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        """Learn the vocabulary and idf weights; returns a new, fitted featurizer."""
        vectorizer = self._make_vectorizer()
        vectorizer.fit(texts)
        return TfidfFeaturizer(**self.settings(), vectorizer=vectorizer)

    def fit_transform(self, texts: Sequence[str]) -> tuple[TfidfFeaturizer, sp.csr_matrix]:
        """Fit and transform in one pass over the texts."""
        vectorizer = self._make_vectorizer()
        matrix = vectorizer.fit_transform(texts)
        return TfidfFeaturizer(**self.settings(), vectorizer=vectorizer), matrix.tocsr()

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF matrix of ``texts`` (rows: texts, columns: vocabulary)."""
        if self.vectorizer is None:
            raise ValueError("TfidfFeaturizer is not fitted; call fit first")
        return self.vectorizer.transform(texts).tocsr()

    @property
    def vocabulary(self) -> list[str]:
        """The n-grams in column order."""
        if self.vectorizer is None:
            return []
        return self.vectorizer.get_feature_names_out().tolist()

    def settings(self) -> dict[str, Any]:
        """The constructor settings (JSON-ready apart from the tuple)."""
        return {
            "ngram_range": tuple(self.ngram_range),
            "min_df": self.min_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
        }

    def to_state(self) -> tuple[dict[str, Any], list[str], dict[str, np.ndarray]]:
        """``(preprocessing settings, vocabulary, tensors)`` for saving without pickle."""
        if self.vectorizer is None:
            raise ValueError("TfidfFeaturizer is not fitted; call fit first")
        settings = {
            **self.settings(),
            "ngram_range": list(self.ngram_range),
            "kind": "tfidf",
            "token_pattern": TOKEN_PATTERN,
            "lowercase": True,
            "norm": "l2",
        }
        return settings, self.vocabulary, {"idf": np.asarray(self.vectorizer.idf_)}

    @classmethod
    def from_state(
        cls, settings: Mapping[str, Any], vocabulary: Sequence[str], tensors: Mapping[str, Any]
    ) -> TfidfFeaturizer:
        """Rebuild a fitted featurizer from :meth:`to_state`'s output."""
        featurizer = cls(
            ngram_range=(int(settings["ngram_range"][0]), int(settings["ngram_range"][1])),
            min_df=int(settings["min_df"]),
            max_features=settings["max_features"],
            sublinear_tf=bool(settings["sublinear_tf"]),
        )
        vectorizer = featurizer._make_vectorizer()
        vectorizer.vocabulary_ = {term: index for index, term in enumerate(vocabulary)}
        vectorizer.idf_ = np.asarray(tensors["idf"], dtype=np.float64)
        return TfidfFeaturizer(**featurizer.settings(), vectorizer=vectorizer)

    def _make_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            lowercase=True,
            token_pattern=TOKEN_PATTERN,
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float64,
        )
