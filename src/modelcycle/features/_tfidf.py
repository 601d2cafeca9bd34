"""TF-IDF of word n-grams (:class:`NgramFeaturizer`): the features of the linear and neural
models, written with polars and numpy (see the package docstring for why not scikit-learn's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from modelcycle.features._ngrams import key_frame, ngram_keys
from modelcycle.features._tokens import (
    CountedWords,
    Vocabulary,
    check_tokenisation,
    empty_vocabulary_error,
    tokenisation_settings,
    tokenize,
)

if TYPE_CHECKING:
    import scipy.sparse as sp

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
        fitted = self._fitted(vocabulary, _key_frequencies(doc, keys), len(texts))
        return fitted, fitted._weigh(doc, keys, len(texts))

    def counted_vocabulary(self, words: CountedWords) -> Vocabulary:
        """The vocabulary :meth:`fit_transform` learns, from ``words`` counted over texts read
        as a stream, block by block."""
        return Vocabulary.from_frequencies(words.frequencies(), min_df=self.min_df)

    def ngram_frequencies(self, doc: np.ndarray, ids: np.ndarray) -> pl.DataFrame:
        """``(key, df)``: the n-grams of texts encoded by the vocabulary (``doc`` and word
        ``ids`` of their tokens, as :meth:`Vocabulary.encode` gives them) and the number of texts
        holding each."""
        return _key_frequencies(*ngram_keys(doc, ids, self.ngram_range))

    def fit_counted(
        self,
        vocabulary: Vocabulary,
        frequencies: Iterable[pl.DataFrame],
        n_texts: int,
        *,
        merge_rows: int = 1 << 22,
    ) -> NgramFeaturizer:
        """:meth:`fit_transform`'s featurizer for ``n_texts`` texts read as a stream: the
        :meth:`counted_vocabulary`, and the :meth:`ngram_frequencies` of disjoint chunks of the
        texts, summed (memory holds one count per distinct n-gram; the chunks' counts are merged
        into it whenever they outgrow ``merge_rows`` and the sum so far, so that each count is
        merged a bounded number of times). The same columns and weights as ``fit_transform`` on
        all the texts."""
        summed = _summed([])
        parts: list[pl.DataFrame] = []
        for part in frequencies:
            parts.append(part)
            if sum(counted.height for counted in parts) > max(merge_rows, summed.height):
                summed, parts = _summed([summed, *parts]), []
        return self._fitted(vocabulary, _summed([summed, *parts]), n_texts)

    def _fitted(
        self, vocabulary: Vocabulary, doc_freq: pl.DataFrame, n_texts: int
    ) -> NgramFeaturizer:
        """The fitted featurizer from the vocabulary and the n-grams' ``(key, df)`` counts."""
        doc_freq = doc_freq.filter(pl.col("df") >= self.min_df)
        if self.max_features is not None:
            doc_freq = doc_freq.sort(["df", "key"], descending=[True, False]).head(
                self.max_features
            )
        doc_freq = doc_freq.sort("key")
        if doc_freq.is_empty():
            low, high = self.ngram_range
            what = f"word n-gram ({low} to {high} words)"
            raise empty_vocabulary_error(what, "min_df", self.min_df, n_texts)
        idf = np.log((1.0 + n_texts) / (1.0 + doc_freq.get_column("df").to_numpy())) + 1.0
        return NgramFeaturizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            weighting=self.weighting,
            vocabulary=vocabulary,
            keys=doc_freq.get_column("key").to_numpy(),
            idf=idf,
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF matrix of ``texts`` (rows: texts, columns: n-grams)."""
        if self.vocabulary is None:
            raise ValueError("NgramFeaturizer is not fitted; call fit_transform first")
        doc, keys = ngram_keys(*self.vocabulary.encode_texts(texts), self.ngram_range)
        return self._weigh(doc, keys, len(texts))

    def transform_ids(self, lengths: np.ndarray, words: np.ndarray) -> sp.csr_matrix:
        """:meth:`transform` of texts already tokenised: ``words`` are the vocabulary ids of
        their tokens (-1: unknown), text after text, ``lengths[i]`` of them for text i."""
        if self.vocabulary is None:
            raise ValueError("NgramFeaturizer is not fitted; call fit_transform first")
        doc = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        doc, keys = ngram_keys(doc, words.astype(np.int64, copy=False), self.ngram_range)
        return self._weigh(doc, keys, len(lengths))

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
            known = key_frame(doc, keys).join(
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
            **tokenisation_settings(),
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
        check_tokenisation(settings)
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


def _key_frequencies(doc: np.ndarray, keys: np.ndarray) -> pl.DataFrame:
    """``(key, df)``: each n-gram key and the number of texts (``doc``) holding it."""
    return (
        key_frame(doc, keys)
        .group_by("key")
        .agg(pl.col("doc").n_unique().cast(pl.Int64).alias("df"))
    )


def _summed(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Counts of disjoint blocks of texts, added up."""
    if not parts:
        return pl.DataFrame(schema={"key": pl.UInt64, "df": pl.Int64})
    return pl.concat(parts).group_by("key").agg(pl.col("df").sum())
