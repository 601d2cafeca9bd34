"""Streamed texts tokenised once (:class:`TokenCache`): the first pass over a stream counts its
words and writes each text's words to disk as ids, so that every epoch reads ids rather than
tokenising the text again.

Tokenising and looking words up is most of what encoding a streamed review costs (IMDB: 25 of
its 43 us), and without the cache a streamed epoch pays it twice: once to count the vocabulary,
once to encode. The cache takes 2 bytes a token, 4 for rare words (IMDB: 40% of the text as
CSV), in a temporary folder (under ``TMPDIR``) removed when training ends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from modelcycle.data import TextBlock, TextStream, shuffled_windows
from modelcycle.exceptions import ConfigError
from modelcycle.features import TOKENISE_CHUNK, Vocabulary, bag_ngram_count

if TYPE_CHECKING:
    from modelcycle.models._native_tokens import ChunkWords

_NARROW_LIMIT = np.uint32(np.iinfo(np.uint16).max)
"""Cached word ids below this are written in 16 bits."""


@dataclass(frozen=True)
class TokenRows:
    """Texts as word ids, ``lengths[i]`` ids for text ``i``, text after text, and their labels'
    codes: what :func:`~modelcycle.data.shuffled_windows` cuts and permutes."""

    lengths: np.ndarray  # int64, a row per text
    ids: np.ndarray  # uint32, the cache's word numbering
    labels: np.ndarray  # int32 label codes, a row per text

    GATHER_ROWS = 4096  # rows permuted at a time (IMDB: about 9 MB on the way)

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, index: slice | np.ndarray) -> TokenRows:
        """The rows at ``index`` (a slice, or positions in the order wanted)."""
        bounds = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=bounds[1:])
        if isinstance(index, slice):
            first, stop, _ = index.indices(len(self))
            stop = max(first, stop)
            ids = self.ids[bounds[first] : bounds[stop]]
            return TokenRows(self.lengths[first:stop], ids, self.labels[first:stop])
        lengths = self.lengths[index]
        ids = np.empty(int(lengths.sum()), dtype=self.ids.dtype)
        done = 0
        for first in range(0, len(index), self.GATHER_ROWS):  # small temporaries: no page faults
            rows = index[first : first + self.GATHER_ROWS]
            counts = lengths[first : first + self.GATHER_ROWS]
            starts = np.cumsum(counts) - counts
            # token k of new row i is old token bounds[rows[i]] + k
            gather = np.arange(int(counts.sum()), dtype=np.int64)
            gather += np.repeat(bounds[rows] - starts, counts)
            np.take(self.ids, gather, out=ids[done : done + len(gather)])
            done += len(gather)
        return TokenRows(lengths, ids, self.labels[index])

    def then(self, other: TokenRows) -> TokenRows:
        """These rows followed by ``other``'s."""
        return TokenRows(
            np.concatenate([self.lengths, other.lengths]),
            np.concatenate([self.ids, other.ids]),
            np.concatenate([self.labels, other.labels]),
        )


class TokenCache:
    """The words of a stream, counted and kept as ids on disk by one pass over its blocks
    (:meth:`add`): every block's words are counted (so every process of a job counts the same
    vocabulary), the blocks process ``part`` reads are written. :meth:`windows` then reads the
    part's rows as :meth:`TextStream.windows <modelcycle.data.TextStream.windows>` reads its
    texts: the same shuffle, the same windows.

    A word's id is the order in which the pass first met it; :meth:`word_ids` maps them to a
    vocabulary built from :meth:`frequencies` (each word's document frequency, as
    :func:`~modelcycle.features.document_frequencies` counts all the texts at once). Memory
    holds one entry per distinct word, never the texts.
    """

    CHUNK = TOKENISE_CHUNK

    def __init__(
        self,
        folder: Path,
        stream: TextStream,
        part: tuple[int, int] = (0, 1),
        *,
        ngrams: int = 1,
        workers: int | None = None,
    ) -> None:
        self.folder, self.stream, self.part = folder, stream, part
        self.texts = 0
        self.ngram_count = 0
        self._ngrams = ngrams
        self._workers = workers or os.cpu_count() or 1
        self._words = pl.DataFrame(schema={"tok": pl.String, "id": pl.UInt32})  # id: row
        self._df = np.zeros(0, dtype=np.int64)
        self._label_codes: dict[str, int] = {}
        self._blocks: dict[int, list[int]] = {}  # shard -> the numbers of its blocks written
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[TextBlock, list[Future[ChunkWords]]] | None = None
        # Numba takes 0.3 s to import: only streamed training pays it
        from modelcycle.models._native_tokens import count_words

        self._count_words = count_words

    def add(self, block: TextBlock) -> None:
        """Count the words of ``block`` (on ``workers`` threads, ``CHUNK`` texts at a time)
        and, if process ``part`` reads it, write its texts' word ids. The block is tokenised
        while the previous one is numbered and written; :meth:`finish` completes the last."""
        texts = block.texts
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="modelcycle-count")
        found = [
            self._pool.submit(self._count_words, texts[first : first + self.CHUNK])
            for first in range(0, len(texts), self.CHUNK)
        ]
        self.finish()
        self._pending = (block, found)

    def finish(self) -> None:
        """Number and write the block :meth:`add` was given last, if not done yet."""
        if self._pending is None:
            return
        block, futures = self._pending
        self._pending = None
        found = [future.result() for future in futures]
        ids = self._numbered(found)
        lengths = np.concatenate([np.zeros(0, np.int64), *(chunk.lengths for chunk in found)])
        self.texts += len(block.texts)
        self.ngram_count += bag_ngram_count(lengths, self._ngrams)
        if self.stream.owns(self.part, block.shard, block.block):
            codes = self._label_codes
            labels = np.fromiter(
                (codes.setdefault(label, len(codes)) for label in block.labels),
                dtype=np.int32,
                count=len(block.labels),
            )
            self._write(block.shard, block.block, TokenRows(lengths, ids, labels))

    def close(self) -> None:
        """Stop the counting threads (tokenising not finished is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._pending = None

    def _numbered(self, found: list[ChunkWords]) -> np.ndarray:
        """The ids of a block's tokens, text after text: the chunks' distinct words numbered
        (new ones after the known, in the order met), their document frequencies added."""
        words = pl.concat([chunk.words for chunk in found]) if found else _no_words()
        new = (
            words.join(self._words, on="tok", how="anti")
            .select(pl.col("tok").unique(maintain_order=True))
            .with_row_index("id", offset=self._words.height)
        )
        self._words = pl.concat([self._words, new.select("tok", "id")])
        ids = words.join(self._words, on="tok", how="left", maintain_order="left")
        word_ids = ids.get_column("id").to_numpy()
        if self._words.height > len(self._df):  # room for the new words, doubling
            grown = np.zeros(max(2 * len(self._df), self._words.height), dtype=np.int64)
            grown[: len(self._df)] = self._df
            self._df = grown
        np.add.at(self._df, word_ids, ids.get_column("df").to_numpy())  # a word in many chunks
        starts = np.cumsum([0] + [chunk.words.height for chunk in found[:-1]])
        return np.concatenate(
            [np.zeros(0, np.uint32)]
            + [word_ids[chunk.codes + start] for chunk, start in zip(found, starts, strict=True)]
        )

    def _write(self, shard: int, number: int, rows: TokenRows) -> None:
        """Write a block's rows, its word ids in 16 bits where they fit (the words met first, so
        the frequent ones: IMDB's ids take 2 bytes a token, not 4) and the others beside."""
        wide = np.flatnonzero(rows.ids >= _NARROW_LIMIT)
        arrays = {
            "lengths": rows.lengths,
            "labels": rows.labels,
            "narrow_ids": np.minimum(rows.ids, _NARROW_LIMIT).astype(np.uint16),
            "wide_at": wide,
            "wide_ids": rows.ids[wide],
        }
        try:
            for name, array in arrays.items():
                np.save(self._path(shard, number, name), array)
        except OSError as exc:
            raise ConfigError(
                f"could not write the streamed texts' words to {self.folder} ({exc.strerror}); "
                "they take about 2 to 4 bytes a word there: point TMPDIR at a folder with room"
            ) from exc
        self._blocks.setdefault(shard, []).append(number)

    def _path(self, shard: int, number: int, name: str) -> Path:
        return self.folder / f"{shard}-{number}.{name}.npy"

    def _read(self, shard: int, number: int) -> TokenRows:
        def load(name: str) -> np.ndarray:
            return np.load(self._path(shard, number, name), allow_pickle=False)

        ids = load("narrow_ids").astype(np.uint32)
        ids[load("wide_at")] = load("wide_ids")
        return TokenRows(load("lengths"), ids, load("labels"))

    def frequencies(self) -> pl.DataFrame:
        """``(tok, df)``: every word counted and the number of texts holding it, by id."""
        df = self._df[: self._words.height]
        return pl.DataFrame({"tok": self._words.get_column("tok"), "df": df})

    def word_ids(self, vocabulary: Vocabulary) -> np.ndarray:
        """Each cached word's id in ``vocabulary`` (-1 where it is not in it), by cached id."""
        return vocabulary.encode(self._words.select(doc=pl.col("id"), tok="tok"))[1]

    def label_targets(self, classes: Sequence[str] | np.ndarray) -> np.ndarray:
        """Each label code's index into the sorted ``classes``, by code."""
        return np.searchsorted(np.asarray(classes), np.asarray(list(self._label_codes), dtype=str))

    def windows(self, size: int, *, seed: int, epoch: int, skip: int = 0) -> Iterator[TokenRows]:
        """The part's rows in the windows :meth:`TextStream.windows
        <modelcycle.data.TextStream.windows>` builds with the same arguments and ``part``."""
        blocks = (
            self._read(shard, number)
            for shard in self.stream.shard_order(seed, epoch)
            for number in self._blocks.get(shard, [])
        )
        return shuffled_windows(blocks, size, seed=seed, epoch=epoch, skip=skip)


@contextmanager
def token_cache(
    stream: TextStream, part: tuple[int, int], *, ngrams: int = 1
) -> Iterator[TokenCache]:
    """A :class:`TokenCache` in a temporary folder, removed on leaving."""
    with tempfile.TemporaryDirectory(prefix="modelcycle-tokens-") as folder:
        cache = TokenCache(Path(folder), stream, part, ngrams=ngrams)
        try:
            yield cache
        finally:
            cache.close()


def _no_words() -> pl.DataFrame:
    return pl.DataFrame(schema={"tok": pl.String, "df": pl.Int64})
