"""What the families that train on data larger than memory share (their ``fit_stream``): the
first pass over a :class:`~modelcycle.data.TextStream` (labels, rows per process, words counted
with bounded memory and the texts kept as word ids in a
:class:`~modelcycle.models._token_cache.TokenCache`), validation labels mapped as ``fit`` maps
them, and the loop's streamed data (:class:`WindowStream`): each seeded shuffle window of
cached words encoded by the family and cut, in order, into mini-batches."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch

from modelcycle.data import (
    StreamSummary,
    TextStream,
    read_ahead,
    release_freed_memory,
)
from modelcycle.engine.loop import Batch, RunOptions, TrainingData
from modelcycle.exceptions import ConfigError, DataError
from modelcycle.features import TOKENISE_CHUNK, NgramFeaturizer, Vocabulary
from modelcycle.models._base import ExtraInputs
from modelcycle.models._token_cache import TokenCache, TokenRows, token_cache
from modelcycle.models._torch import MatrixData

ENCODE_CHUNK = 2048
"""A window's cached words are encoded this many texts at a time: a whole window of long texts
would need gigabytes on the way (IMDB: 270 words a review)."""


@dataclass(frozen=True)
class FirstPass:
    """What one pass over every row of a stream found, before training."""

    summary: StreamSummary
    classes: np.ndarray  # the labels, sorted
    part: tuple[int, int]  # (rank, world) of this process
    words: TokenCache  # the words counted, and the part's texts as word ids
    targets: np.ndarray  # the class index of each of the cache's label codes


@contextmanager
def first_pass(
    stream: TextStream,
    run: RunOptions,
    *,
    shuffle_buffer: int,
    features: Any = (),
    ngrams: int = 1,
) -> Iterator[FirstPass]:
    """Count the stream's labels, its rows per process and its words, keeping the texts this
    process reads as word ids in a temporary :class:`TokenCache` that lives as long as the
    context (every process reads all the rows, so all count the same words); refuses a
    ``shuffle_buffer`` under one row, engineered ``features`` (not computed on streamed data)
    and fewer than two classes."""
    if shuffle_buffer < 1:
        raise ConfigError(f"shuffle_buffer must be >= 1 row, got {shuffle_buffer}")
    if features:
        raise ConfigError(
            "engineered features (features=...) are not computed on streamed data; "
            "train without them, or load the data into memory (without --stream)"
        )
    cluster = run.distributed
    part = (0, 1) if cluster is None else (cluster.rank, cluster.world_size)
    with token_cache(stream, part, ngrams=ngrams) as words:
        summary = stream.summarize(part[1], on_block=words.add)
        words.finish()
        empty = [rank for rank, rows in enumerate(summary.part_rows) if not rows]
        if empty:
            blocks = "shards" if len(stream.shards) >= part[1] else "blocks of rows"
            raise ConfigError(
                f"process {empty[0]} of {part[1]} has no rows to read: the data's "
                f"{len(stream.shards)} shard(s) give the processes too few {blocks}; split the "
                f"data into at least {part[1]} shards, or use fewer processes"
            )
        classes = np.asarray(summary.classes)
        if len(classes) < 2:
            found = ", ".join(map(repr, summary.classes)) or "none"
            raise DataError(
                f"training needs at least 2 classes, found {len(classes)} ({found})",
                path=stream.source,
                column=stream.label,
            )
        yield FirstPass(summary, classes, part, words, words.label_targets(classes))


def stream_val(
    val: tuple[list[str], Any] | None, classes: np.ndarray
) -> tuple[list[str], np.ndarray] | None:
    """Validation texts and labels as class indices, as ``fit`` maps them: labels training never
    saw are left out."""
    if val is None:
        return None
    labels = np.asarray(val[1]).astype(str)
    seen = np.isin(labels, classes)
    kept = [text for text, keep in zip(val[0], seen, strict=True) if keep]
    return kept, np.searchsorted(classes, labels[seen])


class WindowStream:
    """The first pass's cached words as the loop's streamed data: each shuffle window of
    ``window`` rows (rounded up to whole batches) is encoded by ``encode`` and cut, in order,
    into mini-batches of ``batch_size`` texts. Every process trains the same number of batches
    an epoch, the fewest any process's part holds (the others' last rows wait for the next
    epoch's shuffle)."""

    def __init__(
        self,
        encode: Callable[[TokenRows], TrainingData],
        first: FirstPass,
        *,
        batch_size: int,
        window: int,
        seed: int,
    ) -> None:
        self.words, self.encode, self.classes = first.words, encode, first.classes
        self.batch_size, self.seed, self.part = batch_size, seed, first.part
        self.window = -(-window // batch_size) * batch_size
        summary = first.summary
        self.class_counts = np.array([summary.label_counts[c] for c in self.classes.tolist()])
        self.batches_per_epoch = min(-(-rows // batch_size) for rows in summary.part_rows)
        self.rows = min(summary.part_rows[self.part[0]], self.batches_per_epoch * batch_size)

    def __len__(self) -> int:
        return self.rows

    def epoch_batches(self, epoch: int, skip: int, device: torch.device) -> Iterator[Batch]:
        """The mini-batches of ``epoch`` after its first ``skip``: the windows before the one
        that holds batch ``skip`` are read but not encoded."""
        per_window = self.window // self.batch_size
        number = skip // per_window * per_window  # the first batch of the first window built
        windows = self.words.windows(
            self.window, seed=self.seed, epoch=epoch, skip=skip // per_window
        )
        encoded = (self._encode(window) for window in windows)
        yield from self._batches(read_ahead(encoded), number, skip, device)

    def _batches(
        self, windows: Iterator[TrainingData], number: int, skip: int, device: torch.device
    ) -> Iterator[Batch]:
        """The windows' mini-batches from batch ``number`` of the epoch, those before ``skip``
        left out."""
        for data in windows:
            targets = torch.as_tensor(data.targets, dtype=torch.long)
            for first in range(0, len(data), self.batch_size):
                rows = np.arange(first, min(first + self.batch_size, len(data)))
                if number >= skip:
                    yield data.batch(rows, device), targets[rows].to(device)
                number += 1
                if number == self.batches_per_epoch:
                    return

    def _encode(self, window: TokenRows) -> TrainingData:
        data = self.encode(window)
        release_freed_memory()  # the encoding's
        return data


def row_chunks(rows: TokenRows) -> Iterator[TokenRows]:
    """``rows`` in runs of :data:`ENCODE_CHUNK` texts."""
    for first in range(0, len(rows), ENCODE_CHUNK):
        yield rows.take(slice(first, first + ENCODE_CHUNK))


def ngram_frequencies(
    stream: TextStream, featurizer: NgramFeaturizer, vocabulary: Vocabulary
) -> Iterator[pl.DataFrame]:
    """``featurizer``'s n-gram document frequencies of every row of ``stream`` (every process
    counts them all), a chunk of :data:`~modelcycle.features.TOKENISE_CHUNK` texts at a time,
    on every core."""
    # Numba takes 0.3 s to import: only streamed training pays it
    from modelcycle.models._native_tokens import encode_words

    def count(texts: list[str]) -> pl.DataFrame:
        return featurizer.ngram_frequencies(*encode_words(texts, vocabulary))

    workers = os.cpu_count() or 1
    with ThreadPoolExecutor(workers, thread_name_prefix="modelcycle-ngrams") as pool:
        counting: deque[Future[pl.DataFrame]] = deque()  # two chunks a core, across blocks
        for block in read_ahead(stream.blocks()):
            for first in range(0, len(block.texts), TOKENISE_CHUNK):
                counting.append(pool.submit(count, block.texts[first : first + TOKENISE_CHUNK]))
                if len(counting) > 2 * workers:
                    yield counting.popleft().result()
        while counting:
            yield counting.popleft().result()


@dataclass(frozen=True)
class NgramStream:
    """A stream's n-gram features (vocabulary and document frequencies counted in two passes)
    and the loop's data of it: each window's TF-IDF rows, from the texts' cached words."""

    first: FirstPass
    featurizer: NgramFeaturizer
    data: WindowStream

    def fingerprint(self, stream: TextStream) -> dict[str, Any]:
        """What identifies the run's data, for its checkpoints."""
        rows, columns = self.first.summary.rows, self.featurizer.n_features
        return {"rows": rows, "features": columns, "shards": [str(p) for p in stream.shards]}


@contextmanager
def ngram_stream(
    stream: TextStream,
    featurizer: NgramFeaturizer,
    run: RunOptions,
    *,
    shuffle_buffer: int,
    batch_size: int,
    seed: int,
    features: Any = (),
) -> Iterator[NgramStream]:
    """Fit ``featurizer`` on ``stream`` (:func:`first_pass`, then a pass over the n-grams) and
    make the loop's data: windows of TF-IDF rows from the cached words, batches of
    ``batch_size`` rows shared among the job's processes. The cache lives as long as the
    context."""
    with first_pass(stream, run, shuffle_buffer=shuffle_buffer, features=features) as first:
        vocabulary = featurizer.counted_vocabulary(first.words)
        counts = ngram_frequencies(stream, featurizer, vocabulary)
        fitted = featurizer.fit_counted(vocabulary, counts, first.words.texts)
        assert fitted.vocabulary is not None
        word_ids = first.words.word_ids(fitted.vocabulary)

        def encode(rows: TokenRows) -> MatrixData:
            matrix = sp.vstack(
                [fitted.transform_ids(c.lengths, word_ids[c.ids]) for c in row_chunks(rows)],
                format="csr",
            )
            return MatrixData(matrix, first.targets[rows.labels])

        share = max(1, batch_size // first.part[1])  # each process's share of a batch
        data = WindowStream(encode, first, batch_size=share, window=shuffle_buffer, seed=seed)
        yield NgramStream(first, fitted, data)


@contextmanager
def fit_ngram_stream(
    estimator: Any, stream: TextStream, run: RunOptions, *, shuffle_buffer: int
) -> Iterator[NgramStream]:
    """:func:`ngram_stream` for an n-gram family's ``estimator`` (its featurizer, batch size,
    seed and engineered features), setting on it what the first pass fixes: ``classes_``,
    ``featurizer_``, ``extra_`` (none), ``stream_rows_``, and no post-processing."""
    seed = estimator.random_state if isinstance(estimator.random_state, int) else 0
    with ngram_stream(
        stream,
        estimator._featurizer(),
        run,
        shuffle_buffer=shuffle_buffer,
        batch_size=estimator.batch_size,
        seed=seed,
        features=estimator.features,
    ) as streamed:
        estimator.classes_, estimator.postprocess_ = streamed.first.classes, None
        estimator.featurizer_, estimator.extra_ = streamed.featurizer, ExtraInputs(None)
        estimator.stream_rows_ = streamed.first.summary.rows
        yield streamed
