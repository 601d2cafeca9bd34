"""Text features: the tokenisation, n-gram keys, TF-IDF and hashed bags that models train with
and serving reuses, and engineered numeric features (length, words, share of capitals, ...).

Written here rather than taken from scikit-learn's ``TfidfVectorizer`` because featurisation is
the cost of the linear models (on IMDB the vectoriser is 90% of TF-IDF + logistic regression's
training time) and of the fastText-style model: every step below is vectorised with polars and
numpy, and a featurizer's learned state is plain data (a word list and arrays) that saves as JSON
and safetensors and is rebuilt exactly at load time, in training or in serving.

The pipeline::

    texts ──tokenize──► (doc, token) ──Vocabulary──► (doc, word id) ──ngram_keys──► (doc, key)
                                                                       │
                        NgramFeaturizer: key → column, tf-idf/binary ──┤
                        HashedBagFeaturizer: key → id or bucket ───────┘

Engineered features are polars expressions, computed for every text at once (no Python loop over
rows)::

    frame.with_columns(engineered_features(pl.col("text"), ["length", "words"]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import regex

from modelcycle.exceptions import ConfigError, DataError, SchemaError

if TYPE_CHECKING:
    import scipy.sparse as sp

    from modelcycle.data import Dataset

__all__ = [
    "ENGINEERED_FEATURES",
    "TAG_PATTERN",
    "TOKEN_PATTERN",
    "WEIGHTINGS",
    "EngineeredFeature",
    "EngineeredFeaturizer",
    "HashedBagFeaturizer",
    "NgramFeaturizer",
    "Vocabulary",
    "add_engineered_features",
    "check_feature_names",
    "engineered_features",
    "ngram_keys",
    "tokenize",
    "tokens_of",
]

TOKEN_PATTERN = r"[\p{L}\p{M}\p{N}_]+(?:'[\p{L}\p{M}\p{N}_]+)*|[!?]"
"""A token: a run of letters, marks, digits and underscores, with inner apostrophes (don't, n't),
or ``!`` / ``?``. Written with Unicode categories, so that polars' regex engine (large batches) and
the ``regex`` module (small batches, where polars' per-call cost dominates) find the same tokens."""
TAG_PATTERN = r"<[^<>]{0,200}>"
"""HTML tags (``<br />``) are replaced by a space before tokenising."""

END_TOKEN = "</s>"
"""fastText's end-of-text token: no text yields it (it is not a TOKEN_PATTERN match)."""

SMALL_BATCH = 64
"""Up to this many texts are tokenised in Python (about 20 µs a text), above it with polars."""
_TOKEN = regex.compile(TOKEN_PATTERN)
_TAG = regex.compile(TAG_PATTERN)
_ORDER_SHIFT = np.uint64(61)
_HASH_MASK = np.uint64((1 << 61) - 1)
_PRIME = np.uint64(0x9E3779B97F4A7C15)


def tokenize(texts: Sequence[str] | pl.Series) -> pl.DataFrame:
    """Lower-cased tokens of each text, one row per token: columns ``doc`` (text index) and
    ``tok``, in text order."""
    series = texts if isinstance(texts, pl.Series) else pl.Series("text", texts, dtype=pl.String)
    return (
        pl.DataFrame({"text": series})
        .with_row_index("doc")
        .select(
            "doc",
            pl.col("text")
            .fill_null("")
            .str.to_lowercase()
            .str.replace_all(TAG_PATTERN, " ")
            .str.extract_all(TOKEN_PATTERN)
            .alias("tok"),
        )
        .explode("tok")
        .drop_nulls("tok")
    )


def tokens_of(text: str) -> list[str]:
    """The tokens of one text, as :func:`tokenize` finds them."""
    return _TOKEN.findall(_TAG.sub(" ", text.lower()))


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
        counts = (
            tokens.group_by("tok")
            .agg(pl.col("doc").n_unique().alias("df"))
            .filter(pl.col("df") >= min_df)
            .sort(["df", "tok"], descending=[True, False])
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


def ngram_keys(
    doc: np.ndarray, ids: np.ndarray, ngram_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(doc, key)`` for every n-gram of known words with n in ``ngram_range``, in token order
    (the n-grams that start at a token, shortest first), so sorted by ``doc`` when it is.

    A unigram's key is its word id; an n-gram's key is a 61-bit hash of its word ids with n in
    the top three bits, so keys of different orders never collide. Unknown words (id -1) break
    n-grams, as a word that never reached the vocabulary cannot be part of a kept n-gram.
    """
    keys, kept = _ngram_table(doc, ids, ngram_range)
    return np.repeat(doc, kept.sum(axis=1, dtype=np.uint8)), keys[kept]


def _ngram_table(
    doc: np.ndarray, ids: np.ndarray, ngram_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, kept)``, both (token, order): the key of the n-gram that starts at each token,
    and whether it exists. Every step works in place: on IMDB's 6M tokens a fresh array of the
    corpus' size costs more than the arithmetic on it (first-touch page faults)."""
    orders = [n for n in range(max(ngram_range[0], 1), ngram_range[1] + 1) if n <= len(ids)]
    keys = np.empty((len(ids), len(orders)), dtype=np.uint64)
    kept = np.zeros((len(ids), len(orders)), dtype=bool)
    known = ids >= 0
    words = ids.astype(np.int64, copy=False).view(np.uint64)  # -1 wraps, but is never kept
    one = np.uint64(1)
    for column, n in enumerate(orders):
        width = len(ids) - n + 1
        key, valid = keys[:width, column], kept[:width, column]
        valid[:] = known[:width]
        if n == 1:
            key[:] = words
            continue
        np.add(words[:width], one, out=key)
        for offset in range(1, n):
            window = slice(offset, offset + width)
            valid &= known[window]
            valid &= doc[window] == doc[:width]
            key *= _PRIME
            key += words[window]
            key += one
        key &= _HASH_MASK
        key |= np.uint64(n) << _ORDER_SHIFT
    return keys, kept


WEIGHTINGS = ("tfidf", "binary", "count")


@dataclass(frozen=True)
class NgramFeaturizer:
    """Word n-gram features, weighted ``tfidf`` (scikit-learn's TfidfVectorizer weighting: smooth
    idf, ``1 + ln(tf)`` when ``sublinear_tf``, L2-normalised rows), ``binary`` (1 if present) or
    ``count``. N-grams found in fewer than ``min_df`` texts are dropped; ``max_features`` keeps
    the most widespread.

    Example::

        featurizer, X = NgramFeaturizer().fit_transform(["a good film", "a bad film"])
        featurizer.transform(["good"])   # scipy CSR matrix, one row per text
    """

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 1
    max_features: int | None = None
    sublinear_tf: bool = True
    weighting: str = "tfidf"
    vocabulary: Vocabulary | None = None
    keys: np.ndarray | None = None  # sorted n-gram keys, one per column
    idf: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """The number of columns (0 before fitting)."""
        return 0 if self.keys is None else len(self.keys)

    def fit_transform(self, texts: Sequence[str]) -> tuple[NgramFeaturizer, sp.csr_matrix]:
        """Learn the n-grams and idf weights; return the fitted featurizer and the matrix."""
        tokens = tokenize(texts)
        vocabulary = Vocabulary.build(tokens, min_df=self.min_df)
        doc, keys = ngram_keys(*vocabulary.encode(tokens), self.ngram_range)
        doc_freq = (
            _pairs(doc, keys)
            .group_by("key")
            .agg(pl.col("doc").n_unique().alias("df"))
            .filter(pl.col("df") >= self.min_df)
        )
        if self.max_features is not None:
            doc_freq = doc_freq.sort(["df", "key"], descending=[True, False]).head(
                self.max_features
            )
        doc_freq = doc_freq.sort("key")
        n_texts = len(texts)
        if doc_freq.is_empty():
            low, high = self.ngram_range
            what = f"word n-gram ({low} to {high} words)"
            raise _empty_vocabulary(what, "min_df", self.min_df, n_texts)
        idf = np.log((1.0 + n_texts) / (1.0 + doc_freq.get_column("df").to_numpy())) + 1.0
        fitted = NgramFeaturizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            weighting=self.weighting,
            vocabulary=vocabulary,
            keys=doc_freq.get_column("key").to_numpy(),
            idf=idf,
        )
        return fitted, fitted._weigh(doc, keys, n_texts)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF matrix of ``texts`` (rows: texts, columns: n-grams)."""
        if self.vocabulary is None:
            raise ValueError("NgramFeaturizer is not fitted; call fit_transform first")
        doc, keys = ngram_keys(*self.vocabulary.encode_texts(texts), self.ngram_range)
        return self._weigh(doc, keys, len(texts))

    def transform_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`transform`'s matrix as its CSR arrays ``(indptr, indices, data)``, equal to
        the matrix's, computed with numpy alone.

        This is what the ONNX predictor feeds its graph: serving then needs neither scipy nor a
        matrix object, and one text costs about 0.1 ms less (scipy's COO to CSR conversion is
        most of the time of a single short text). Large batches are faster through scipy's
        conversion, which :meth:`transform` keeps.
        """
        if self.vocabulary is None:
            raise ValueError("NgramFeaturizer is not fitted; call fit_transform first")
        doc, keys = ngram_keys(*self.vocabulary.encode_texts(texts), self.ngram_range)
        doc, column = self._lookup(doc, keys)
        n_columns = max(self.n_features, 1)
        # one id per (text, column) cell, in row-major order: unique cells are the matrix's
        # non-zeros in CSR order, and their counts are the term counts
        cells, counts = np.unique(doc.astype(np.int64) * n_columns + column, return_counts=True)
        indices = cells % n_columns
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cells // n_columns, minlength=len(texts)), out=indptr[1:])
        return indptr, indices, self._weights(counts.astype(np.float64), indices, indptr)

    def _lookup(self, doc: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(doc, column)`` of the n-grams that have a column (the others are dropped)."""
        assert self.keys is not None
        if len(keys) > 100_000:  # a hash join beats binary search on large inputs
            known = _pairs(doc, keys).join(
                self._columns(), on="key", how="inner", maintain_order="left"
            )
            return known.get_column("doc").to_numpy(), known.get_column("col").to_numpy()
        column = np.searchsorted(self.keys, keys)
        column[column == len(self.keys)] = 0
        found = self.keys[column] == keys if len(self.keys) else np.zeros(len(keys), bool)
        return doc[found], column[found]

    def _weigh(self, doc: np.ndarray, keys: np.ndarray, n_texts: int) -> sp.csr_matrix:
        """Count the known n-grams of each text into a CSR matrix and weigh the counts."""
        import scipy.sparse as sp  # imported here: the serving path (transform_arrays) needs none

        assert self.keys is not None
        doc, column = self._lookup(doc, keys)
        counts = sp.csr_matrix((np.ones(len(doc)), (doc, column)), shape=(n_texts, len(self.keys)))
        counts.sum_duplicates()
        counts.data = self._weights(counts.data, counts.indices, counts.indptr)
        return counts

    def _weights(self, counts: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        """The values of the non-zeros from their term counts (CSR layout): binary, count, or
        TF-IDF with L2-normalised rows (scikit-learn's ``normalize``, without importing
        scikit-learn, so that serving needs only numpy and polars)."""
        assert self.idf is not None
        if self.weighting == "binary":
            return np.ones_like(counts)
        if self.weighting != "tfidf":
            return counts
        values = 1.0 + np.log(counts) if self.sublinear_tf else counts.copy()
        values *= self.idf[indices]
        lengths = np.diff(indptr)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        norms = np.sqrt(np.bincount(rows, weights=values**2, minlength=len(lengths)))
        norms[norms == 0] = 1.0
        values /= np.repeat(norms, lengths)
        return values

    def _columns(self) -> pl.DataFrame:
        """The n-gram keys with their column numbers, for joins (built once)."""
        cached: pl.DataFrame | None = self.__dict__.get("_columns_frame")
        if cached is None:
            assert self.keys is not None
            cached = pl.DataFrame(
                {"key": self.keys, "col": np.arange(len(self.keys), dtype=np.int64)},
                schema={"key": pl.UInt64, "col": pl.Int64},
            )
            object.__setattr__(self, "_columns_frame", cached)
        return cached

    def to_state(self) -> tuple[dict[str, Any], list[str], dict[str, np.ndarray]]:
        """``(settings, words, tensors)`` for saving without pickle."""
        if self.vocabulary is None or self.keys is None or self.idf is None:
            raise ValueError("NgramFeaturizer is not fitted; call fit_transform first")
        settings = {
            "kind": "ngrams",
            "weighting": self.weighting,
            "token_pattern": TOKEN_PATTERN,
            "tag_pattern": TAG_PATTERN,
            "lowercase": True,
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
            "norm": "l2",
        }
        return settings, list(self.vocabulary.words), {"ngram_keys": self.keys, "idf": self.idf}

    @classmethod
    def from_state(
        cls, settings: Mapping[str, Any], words: Sequence[str], tensors: Mapping[str, np.ndarray]
    ) -> NgramFeaturizer:
        """Rebuild a fitted featurizer from :meth:`to_state`'s output."""
        _check_patterns(settings)
        return cls(
            ngram_range=(int(settings["ngram_range"][0]), int(settings["ngram_range"][1])),
            min_df=int(settings["min_df"]),
            max_features=settings["max_features"],
            sublinear_tf=bool(settings["sublinear_tf"]),
            weighting=str(settings["weighting"]),
            vocabulary=Vocabulary(tuple(words)),
            keys=np.asarray(tensors["ngram_keys"], dtype=np.uint64),
            idf=np.asarray(tensors["idf"], dtype=np.float64),
        )


@dataclass(frozen=True)
class HashedBagFeaturizer:
    """Each text as a bag of ids, fastText's way: a word's id from the vocabulary, and each
    n-gram (n >= 2) hashed into one of ``buckets`` extra ids after the words.

    With ``end_token`` (fastText's ``</s>``, vocabulary id 0) every text ends with a token of its
    own, so the last word also forms an n-gram and a text without known words still has a bag.
    On SST-2 it adds 0.8 points of dev accuracy to the ``fasttext`` family (mean of 9 seeds,
    better for each). Models saved without it keep encoding without it.

    ``encode`` returns ``(ids, offsets)``, the inputs of ``torch.nn.EmbeddingBag``: the ids of
    text i are ``ids[offsets[i]:offsets[i + 1]]``.
    """

    ngrams: int = 2
    buckets: int = 2_000_000
    min_count: int = 1
    vocabulary: Vocabulary | None = None
    end_token: bool = True

    @property
    def size(self) -> int:
        """The number of distinct ids: words plus buckets."""
        return (0 if self.vocabulary is None else len(self.vocabulary)) + self.buckets

    def fit(self, texts: Sequence[str]) -> HashedBagFeaturizer:
        """Learn the vocabulary (words in at least ``min_count`` texts)."""
        return self._fitted(tokenize(texts), len(texts))

    def fit_encode(
        self, texts: Sequence[str]
    ) -> tuple[HashedBagFeaturizer, np.ndarray, np.ndarray]:
        """``fit(texts)`` and its ``encode(texts)``, tokenising the texts once."""
        tokens = tokenize(texts)
        fitted = self._fitted(tokens, len(texts))
        assert fitted.vocabulary is not None
        return fitted, *fitted._bags(*fitted.vocabulary.encode(tokens), len(texts))

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, offsets)`` as int64 arrays; without ``end_token``, a text without known words
        has an empty bag."""
        if self.vocabulary is None:
            raise ValueError("HashedBagFeaturizer is not fitted; call fit first")
        return self._bags(*self.vocabulary.encode_texts(texts), len(texts))

    def _fitted(self, tokens: pl.DataFrame, n_texts: int) -> HashedBagFeaturizer:
        vocabulary = Vocabulary.build(tokens, min_df=self.min_count)
        if not len(vocabulary):  # n-grams are of known words: there would be none at all
            raise _empty_vocabulary("word", "min_count", self.min_count, n_texts)
        if self.end_token:
            vocabulary = Vocabulary((END_TOKEN, *vocabulary.words))
        return replace(self, vocabulary=vocabulary)

    def _bags(
        self, doc: np.ndarray, words: np.ndarray, n_texts: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, offsets)`` of the texts whose tokens are ``(doc, word id)``."""
        assert self.vocabulary is not None
        if self.end_token:
            doc, words = _append_end_token(doc, words, n_texts)
        table, kept = _ngram_table(doc, words, (1, self.ngrams))
        keys = table[kept]  # in token order, so text by text
        hashed = keys >= np.uint64(1) << _ORDER_SHIFT
        np.remainder(keys, np.uint64(self.buckets), out=keys, where=hashed)
        np.add(keys, np.uint64(len(self.vocabulary)), out=keys, where=hashed)
        per_text = np.bincount(doc, weights=kept.sum(axis=1, dtype=np.uint8), minlength=n_texts)
        offsets = np.zeros(n_texts, dtype=np.int64)
        np.cumsum(per_text[:-1], out=offsets[1:], dtype=np.int64)
        return keys.view(np.int64), offsets

    def to_state(self) -> tuple[dict[str, Any], list[str]]:
        """``(settings, words)`` for saving without pickle."""
        if self.vocabulary is None:
            raise ValueError("HashedBagFeaturizer is not fitted; call fit first")
        settings = {
            "kind": "hashed_bag",
            "token_pattern": TOKEN_PATTERN,
            "tag_pattern": TAG_PATTERN,
            "lowercase": True,
            "ngrams": self.ngrams,
            "buckets": self.buckets,
            "min_count": self.min_count,
            "end_token": self.end_token,
        }
        return settings, list(self.vocabulary.words)

    @classmethod
    def from_state(cls, settings: Mapping[str, Any], words: Sequence[str]) -> HashedBagFeaturizer:
        """Rebuild a fitted featurizer from :meth:`to_state`'s output."""
        _check_patterns(settings)
        return cls(
            ngrams=int(settings["ngrams"]),
            buckets=int(settings["buckets"]),
            min_count=int(settings["min_count"]),
            vocabulary=Vocabulary(tuple(words)),
            end_token=bool(settings.get("end_token", False)),  # absent: saved before it existed
        )


def _append_end_token(
    doc: np.ndarray, words: np.ndarray, n_texts: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(doc, word id)`` with :data:`END_TOKEN`'s id 0 after the last token of each of the
    ``n_texts`` texts (tokens come in text order)."""
    ends = np.cumsum(np.bincount(doc, minlength=n_texts))
    out_doc = np.empty(len(doc) + n_texts, dtype=np.int64)
    out_words = np.empty(len(doc) + n_texts, dtype=np.int64)
    token_at = np.arange(len(doc), dtype=np.int64)
    token_at += doc  # each token moves by the end tokens before it
    end_at = ends + np.arange(n_texts)
    out_doc[token_at], out_words[token_at] = doc, words
    out_doc[end_at], out_words[end_at] = np.arange(n_texts), 0
    return out_doc, out_words


def _empty_vocabulary(what: str, threshold: str, value: int, n_texts: int) -> DataError:
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


def _pairs(doc: np.ndarray, keys: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"doc": doc, "key": keys}, schema={"doc": pl.Int64, "key": pl.UInt64})


def _check_patterns(settings: Mapping[str, Any]) -> None:
    """A model tokenised another way would silently predict garbage: refuse it."""
    saved = (settings.get("token_pattern"), settings.get("tag_pattern"))
    if saved != (TOKEN_PATTERN, TAG_PATTERN):
        raise ValueError(
            f"the model was trained with tokenisation {saved}, this modelcycle uses "
            f"{(TOKEN_PATTERN, TAG_PATTERN)}; re-train it with this version"
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
