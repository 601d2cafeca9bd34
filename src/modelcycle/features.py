"""Text features: the tokenisation and TF-IDF weighting that models train with and serving reuses,
and engineered numeric features (length, words, share of capitals, ...).

A featurizer's learned state is plain data (a vocabulary list and arrays), so that it is saved as
JSON and safetensors and rebuilt exactly at load time, in training or in serving. Engineered
features are polars expressions, computed for every text at once (no Python loop over rows)::

    frame.with_columns(engineered_features(pl.col("text"), ["length", "words"]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from modelcycle.exceptions import ConfigError, SchemaError

if TYPE_CHECKING:
    from modelcycle.data import Dataset

__all__ = [
    "ENGINEERED_FEATURES",
    "TOKEN_PATTERN",
    "EngineeredFeature",
    "EngineeredFeaturizer",
    "TfidfFeaturizer",
    "add_engineered_features",
    "check_feature_names",
    "engineered_features",
]

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


@dataclass(frozen=True)
class EngineeredFeature:
    """A numeric feature of a text: what it measures and its polars expression."""

    description: str
    expr: Callable[[pl.Expr], pl.Expr]
    dtype: type[pl.DataType] = pl.Int64


_WORD = r"\w+"
_URL = r"(?i)\b(?:https?://|www\.)[^\s<>\"']+"
# Emoji and pictographs: the emoticon, symbol, transport, supplemental and dingbat blocks.
_EMOJI = (
    "[\U0001f300-\U0001faff\U0001f000-\U0001f2ff\U00002600-\U000027bf"
    "\U0001f900-\U0001f9ff\U00002b00-\U00002bff]"
)
# Negations, including the clitic of "don't" and the split "do n't" of tokenised corpora (SST-2).
_NEGATION = r"(?i)\b(?:not|no|never|none|nobody|nothing|nowhere|neither|nor|cannot|without)\b|n't\b"


def _share_upper(text: pl.Expr) -> pl.Expr:
    letters = text.str.count_matches(r"\p{L}")
    return pl.when(letters > 0).then(text.str.count_matches(r"\p{Lu}") / letters).otherwise(0.0)


def _mean_word_length(text: pl.Expr) -> pl.Expr:
    words = text.str.count_matches(_WORD)
    chars = text.str.extract_all(_WORD).list.eval(pl.element().str.len_chars()).list.sum()
    return pl.when(words > 0).then(chars / words).otherwise(0.0)


ENGINEERED_FEATURES: dict[str, EngineeredFeature] = {
    "length": EngineeredFeature(
        "length in characters (the blog's review_length)", lambda t: t.str.len_chars()
    ),
    "words": EngineeredFeature("number of words", lambda t: t.str.count_matches(_WORD)),
    "mean_word_length": EngineeredFeature(
        "mean characters per word", _mean_word_length, pl.Float64
    ),
    "upper_share": EngineeredFeature("share of letters in upper case", _share_upper, pl.Float64),
    "exclamations": EngineeredFeature(
        "number of '!'", lambda t: t.str.count_matches("!", literal=True)
    ),
    "questions": EngineeredFeature(
        "number of '?'", lambda t: t.str.count_matches("?", literal=True)
    ),
    "digits": EngineeredFeature("number of digits", lambda t: t.str.count_matches(r"\d")),
    "urls": EngineeredFeature("number of web addresses", lambda t: t.str.count_matches(_URL)),
    "emoji": EngineeredFeature("number of emoji", lambda t: t.str.count_matches(_EMOJI)),
    "negations": EngineeredFeature(
        "number of negations (not, no, never, n't, ...)", lambda t: t.str.count_matches(_NEGATION)
    ),
}


def check_feature_names(names: Sequence[str]) -> list[str]:
    """``names`` as a list, or a ConfigError naming the unknown one and listing the valid ones."""
    unknown = [name for name in names if name not in ENGINEERED_FEATURES]
    if unknown:
        raise ConfigError(
            f"unknown feature {unknown[0]!r}; valid features are: {', '.join(ENGINEERED_FEATURES)}"
        )
    if not names:
        raise ConfigError(
            f"no features chosen; valid features are: {', '.join(ENGINEERED_FEATURES)}"
        )
    return list(names)


def engineered_features(
    text: pl.Expr, names: Sequence[str] | None = None, *, prefix: str = ""
) -> list[pl.Expr]:
    """Expressions for the features ``names`` (default: all) of the text column ``text``, named
    ``prefix + name`` (counts are integers, shares and means floats). A missing text counts as
    the empty text."""
    chosen = check_feature_names(list(ENGINEERED_FEATURES) if names is None else names)
    filled = text.cast(pl.String).fill_null("")
    return [
        ENGINEERED_FEATURES[name]
        .expr(filled)
        .cast(ENGINEERED_FEATURES[name].dtype)
        .alias(prefix + name)
        for name in chosen
    ]


def add_engineered_features(
    dataset: Dataset, names: Sequence[str] | None = None, *, prefix: str = ""
) -> tuple[pl.DataFrame, list[str]]:
    """``dataset``'s table with the features ``names`` (default: all) of its text added as
    columns ``prefix + name``; returns the table and the new column names. A name that is
    already a column is an error (choose a ``prefix``)."""
    exprs = engineered_features(pl.col(dataset.text), names, prefix=prefix)
    added = [expr.meta.output_name() for expr in exprs]
    taken = [name for name in added if name in dataset.frame.columns]
    if taken:
        raise SchemaError(
            f"column {taken[0]!r} already exists; choose a prefix (--prefix feat_)",
            path=dataset.source,
        )
    return dataset.frame.with_columns(exprs), added


@dataclass(frozen=True)
class EngineeredFeaturizer:
    """Engineered features as model inputs, standardised with the training set's mean and scale.

    Example::

        featurizer, X = EngineeredFeaturizer(names=("length", "words")).fit_transform(texts)
        featurizer.transform(["a new text"])   # (1, 2) array, same scaling
    """

    names: tuple[str, ...] = ()
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def fit_transform(self, texts: Sequence[str]) -> tuple[EngineeredFeaturizer, np.ndarray]:
        """Learn the mean and scale of each feature; returns the fitted featurizer and matrix."""
        raw = self.raw(texts)
        mean = raw.mean(axis=0)
        scale = raw.std(axis=0)
        scale[scale == 0] = 1.0
        fitted = EngineeredFeaturizer(names=tuple(self.names), mean=mean, scale=scale)
        return fitted, (raw - mean) / scale

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """The standardised feature matrix, shape ``(len(texts), len(names))``."""
        if self.mean is None or self.scale is None:
            raise ValueError("EngineeredFeaturizer is not fitted; call fit_transform first")
        return (self.raw(texts) - self.mean) / self.scale

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """The features before scaling."""
        frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
        values = frame.select(engineered_features(pl.col("text"), list(self.names)))
        return values.to_numpy().astype(np.float64).reshape(len(frame), len(self.names))

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The learned arrays, for safetensors."""
        if self.mean is None or self.scale is None:
            raise ValueError("EngineeredFeaturizer is not fitted; call fit_transform first")
        return {"feature_mean": self.mean, "feature_scale": self.scale}

    @classmethod
    def from_tensors(
        cls, names: Sequence[str], tensors: Mapping[str, np.ndarray]
    ) -> EngineeredFeaturizer:
        """Rebuild a fitted featurizer from :meth:`to_tensors`' output."""
        return cls(
            names=tuple(check_feature_names(names)),
            mean=np.asarray(tensors["feature_mean"], dtype=np.float64),
            scale=np.asarray(tensors["feature_scale"], dtype=np.float64),
        )
