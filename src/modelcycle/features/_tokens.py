"""Word tokens: the one tokenisation of the word-based models (n-gram TF-IDF, hashed bags), of
serving and of the EDA report, and the vocabulary that maps tokens to ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl
import regex

from modelcycle.exceptions import DataError

WORD_CHARACTER = r"[\p{L}\p{M}\p{N}_]"
"""A character of a word: a letter, mark, digit or underscore."""
TOKEN_PATTERN = f"{WORD_CHARACTER}+(?:'{WORD_CHARACTER}+)*|[!?]"
"""A token: a run of letters, marks, digits and underscores, with inner apostrophes (don't, n't),
or ``!`` / ``?``. Written with Unicode categories, so that polars' regex engine (large batches) and
the ``regex`` module (small batches, where polars' per-call cost dominates) find the same tokens."""
TAG_PATTERN = r"<[^<>]{0,200}>"
"""HTML tags (``<br />``) are replaced by a space before tokenising."""

TOKENISE_CHUNK = 2048
"""Texts read as a stream are tokenised this many at a time (IMDB reviews: about 100 MB on the
way; 4,096 saved 4% of the CPU time on 200,000 rows but nothing measurable on 3,200,000, where
it raised the peak by 185 MB)."""
SMALL_BATCH = 64
"""Up to this many texts are tokenised in Python (about 20 µs a text), above it with polars."""
_TOKEN = regex.compile(TOKEN_PATTERN)
_TAG = regex.compile(TAG_PATTERN)


def token_lists(text: pl.Expr) -> pl.Expr:
    """The tokens of each text of the string column ``text``, as a list column: lower-cased,
    HTML tags removed, :data:`TOKEN_PATTERN` matches in text order (a missing text has none)."""
    return prepared_text(text).str.extract_all(TOKEN_PATTERN)


def prepared_text(text: pl.Expr) -> pl.Expr:
    """The string column ``text`` as tokenising reads it: lower-cased, HTML tags replaced by a
    space, a missing text empty."""
    return text.fill_null("").str.to_lowercase().str.replace_all(TAG_PATTERN, " ")


def tokenize(texts: Sequence[str] | pl.Series) -> pl.DataFrame:
    """Lower-cased tokens of each text, one row per token: columns ``doc`` (text index) and
    ``tok``, in text order."""
    series = texts if isinstance(texts, pl.Series) else pl.Series("text", texts, dtype=pl.String)
    return (
        pl.DataFrame({"text": series})
        .with_row_index("doc")
        .select("doc", token_lists(pl.col("text")).alias("tok"))
        .explode("tok")
        .drop_nulls("tok")
    )


def document_frequencies(tokens: pl.DataFrame) -> pl.DataFrame:
    """``(tok, df)``: each word of a :func:`tokenize` frame and the number of texts holding it."""
    return tokens.group_by("tok").agg(pl.col("doc").n_unique().cast(pl.Int64).alias("df"))


class CountedWords(Protocol):
    """Words counted over texts read as a stream: how many texts, and each word's document
    frequency (a :class:`~modelcycle.models._token_cache.TokenCache`, which also keeps the
    texts' words)."""

    texts: int

    def frequencies(self) -> pl.DataFrame: ...


def bag_ngram_count(lengths: np.ndarray, ngrams: int) -> int:
    """The n-grams (n from 1 to ``ngrams``) of hashed bags of texts of ``lengths`` tokens, an
    end token each, every word known: for sizing batches."""
    with_end = lengths.astype(np.int64) + 1
    return sum(int(np.maximum(with_end + 1 - n, 0).sum()) for n in range(1, ngrams + 1))


def tokens_of(text: str) -> list[str]:
    """The tokens of one text, as :func:`tokenize` finds them."""
    return _TOKEN.findall(_TAG.sub(" ", text.lower()))


def tokenisation_settings() -> dict[str, Any]:
    """How texts are tokenised, saved beside a model's vocabulary."""
    return {"token_pattern": TOKEN_PATTERN, "tag_pattern": TAG_PATTERN, "lowercase": True}


def check_tokenisation(settings: Mapping[str, Any]) -> None:
    """A model tokenised another way would silently predict garbage: refuse it."""
    saved = (settings.get("token_pattern"), settings.get("tag_pattern"))
    if saved != (TOKEN_PATTERN, TAG_PATTERN):
        raise ValueError(
            f"the model was trained with tokenisation {saved}, this modelcycle uses "
            f"{(TOKEN_PATTERN, TAG_PATTERN)}; re-train it with this version"
        )


@dataclass(frozen=True)
class Vocabulary:
    """Words and their ids (an id is the position in ``words``)."""

    words: tuple[str, ...]
    _frame: pl.DataFrame = field(init=False, repr=False, compare=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        frame = pl.DataFrame(
            {"tok": list(self.words), "id": np.arange(len(self.words), dtype=np.int64)},
            schema={"tok": pl.String, "id": pl.Int64},
        )
        object.__setattr__(self, "_frame", frame)
        object.__setattr__(self, "_index", {word: i for i, word in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    def encode_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(doc, id)`` arrays of the tokens of ``texts`` (unknown words get id -1)."""
        if len(texts) > SMALL_BATCH:
            return self.encode(tokenize(texts))
        docs: list[int] = []
        ids: list[int] = []
        for doc, text in enumerate(texts):
            found = [self._index.get(token, -1) for token in tokens_of(text or "")]
            docs.extend([doc] * len(found))
            ids.extend(found)
        return np.asarray(docs, dtype=np.int64), np.asarray(ids, dtype=np.int64)

    @classmethod
    def build(
        cls, tokens: pl.DataFrame, *, min_df: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Words found in at least ``min_df`` texts, most widespread first (ties by word)."""
        return cls.from_frequencies(document_frequencies(tokens), min_df=min_df, max_size=max_size)

    @classmethod
    def from_frequencies(
        cls, frequencies: pl.DataFrame, *, min_df: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """:meth:`build` from ``(tok, df)`` counts (:func:`document_frequencies`, summed over
        blocks of texts: the same words in the same order as one count of all the texts)."""
        counts = frequencies.filter(pl.col("df") >= min_df).sort(
            ["df", "tok"], descending=[True, False]
        )
        if max_size is not None:
            counts = counts.head(max_size)
        return cls(tuple(counts.get_column("tok").to_list()))

    def encode(self, tokens: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(doc, id)`` arrays for a :func:`tokenize` frame; unknown words get id -1."""
        joined = tokens.join(self._frame, on="tok", how="left", maintain_order="left")
        doc = joined.get_column("doc").to_numpy().astype(np.int64)
        ids = joined.get_column("id").fill_null(-1).to_numpy()
        return doc, ids


def empty_vocabulary_error(what: str, threshold: str, value: int, n_texts: int) -> DataError:
    """The error of a fit that found no feature, so nothing to learn from (the training layer
    adds the file and column)."""
    found = f"no {what} occurs in at least {threshold}={value} of the {n_texts:,} texts"
    if value <= 1:
        return DataError(f"{found}: the texts are empty or only punctuation; check the text column")
    return DataError(
        f"{found}: the texts may be empty, only punctuation, or too few or too different for "
        f"{threshold}={value}; check the text column, or lower the {threshold} parameter "
        f"(-p {threshold}=1)"
    )
