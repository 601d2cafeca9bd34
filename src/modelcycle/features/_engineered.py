"""Engineered numeric features of a text (length, words, share of capitals, ...), as polars
expressions computed for every text at once, and :class:`EngineeredFeaturizer`, which feeds them
to a model standardised::

    frame.with_columns(engineered_features(pl.col("text"), ["length", "words"]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from modelcycle.exceptions import ConfigError, SchemaError

if TYPE_CHECKING:
    from modelcycle.data import Dataset


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
