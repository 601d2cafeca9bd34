"""Labeled text too large for memory: one big file, or a folder or glob of shards, read block by
block with pyarrow's readers (:func:`~modelcycle.data.iter_batches`), in seeded shuffle windows.

The shuffle: the rows are read in windows of ``size`` rows (the shuffle buffer), each window is
permuted by one generator seeded with ``(seed, epoch)`` and handed on whole. The first window's
permutation is the one an in-memory shuffle of the same seed draws, so a single file of at most
``size`` rows streams in exactly the in-memory order. With several shards their order is shuffled
too, each epoch, so that a window mixes rows from across the data set.

Under torchrun each process reads its own part: whole shards (shard ``rank``, ``rank + world``,
...) when there are at least as many shards as processes, else every ``world``-th block of each
file.
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self, TypeVar

import numpy as np
import pyarrow as pa

from modelcycle.data._dataset import resolve_columns
from modelcycle.data._memory import release_freed_memory, use_system_allocator
from modelcycle.data._read import file_format, iter_batches, read_columns
from modelcycle.exceptions import DataError, ModelcycleError, SchemaError

STREAM_THRESHOLD = 1 << 30
"""Training data larger than this many bytes on disk is streamed rather than loaded."""
DEFAULT_SHUFFLE_BUFFER = 50_000
"""Rows in a shuffle window when none is given (IMDB-sized reviews: about 65 MB of text)."""


@dataclass(frozen=True)
class TextBlock:
    """Rows read together: their texts and labels (stripped), and where they come from."""

    texts: list[str]
    labels: list[str]
    shard: int  # index into the stream's shards
    block: int  # index of the block within its shard


@dataclass(frozen=True)
class TextRows:
    """Texts and their labels, as :func:`shuffled_windows` cuts and permutes them."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, index: slice | np.ndarray) -> TextRows:
        """The rows at ``index`` (a slice, or positions in the order wanted)."""
        if isinstance(index, slice):
            return TextRows(self.texts[index], self.labels[index])
        return TextRows([self.texts[i] for i in index], [self.labels[i] for i in index])

    def then(self, other: TextRows) -> TextRows:
        """These rows followed by ``other``'s."""
        return TextRows(self.texts + other.texts, self.labels + other.labels)


@dataclass(frozen=True)
class StreamSummary:
    """What a first pass over a stream counted: rows, rows per label, rows per process."""

    rows: int
    label_counts: dict[str, int]
    part_rows: tuple[int, ...]  # rows each process of the job reads, by rank

    @property
    def classes(self) -> list[str]:
        """The labels, sorted (as an in-memory dataset's)."""
        return sorted(self.label_counts)


@dataclass(frozen=True)
class TextStream:
    """Labeled text read as a stream from ``shards`` (columns ``text`` and ``label``).

    Example::

        stream = TextStream.open("shards/*.parquet")
        for window in stream.windows(100_000, seed=0, epoch=0):
            ...
    """

    shards: tuple[Path, ...]
    text: str
    label: str
    source: str
    encoding: str = "utf-8"
    block_size: int = 1 << 24  # bytes per CSV/JSONL block (Parquet: row batches)
    _columns: tuple[tuple[str, ...], ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        text: str | None = None,
        label: str | None = None,
        encoding: str = "utf-8",
        block_size: int = 1 << 24,
    ) -> TextStream:
        """The stream of ``path``: a data file, a folder of them, or a glob pattern; the
        columns are found in the first shard (as :func:`~modelcycle.data.load_dataset` does)
        and every shard must hold them."""
        shards = resolve_shards(path)
        columns = tuple(tuple(read_columns(shard, encoding=encoding)) for shard in shards)
        text_column, label_column = resolve_columns(
            shards[0], text=text, label=label, encoding=encoding, columns=columns[0]
        )
        assert label_column is not None  # required
        for shard, names in zip(shards[1:], columns[1:], strict=True):
            missing = [c for c in (text_column, label_column) if c not in names]
            if missing:
                raise SchemaError(
                    f"column {missing[0]!r} (found in {shards[0].name}) not found; columns "
                    f"are: {', '.join(names)}; every shard needs the same columns",
                    path=shard,
                )
        return cls(
            shards, text_column, label_column, str(path), encoding, block_size, _columns=columns
        )

    @property
    def nbytes(self) -> int:
        """The size of the shards on disk."""
        return sum(shard.stat().st_size for shard in self.shards)

    def blocks(
        self, part: tuple[int, int] = (0, 1), shard_order: Sequence[int] | None = None
    ) -> Iterator[TextBlock]:
        """The blocks of rows of process ``part = (rank, world)``, shards in ``shard_order``
        (default: as listed). Rows without a label are an error naming the file and row. Reading
        switches Arrow to the system allocator, whose freed memory each block hands back."""
        use_system_allocator()
        order = list(shard_order) if shard_order is not None else list(range(len(self.shards)))
        for index in order:
            if self.owns(part, index, None):
                yield from self._shard_blocks(index, part)

    def owns(self, part: tuple[int, int], shard: int, block: int | None) -> bool:
        """Whether process ``part = (rank, world)`` reads block ``block`` of shard ``shard``
        (``None``: any of its blocks): whole shards when there are at least as many as
        processes, else every ``world``-th block of each."""
        rank, world = part
        if len(self.shards) >= world:
            return shard % world == rank
        return block is None or block % world == rank

    def shard_order(self, seed: int, epoch: int) -> list[int]:
        """The order in which epoch ``epoch`` reads the shards."""
        return np.random.default_rng([seed, epoch, 1]).permutation(len(self.shards)).tolist()

    def summarize(
        self, world: int = 1, on_block: Callable[[TextBlock], None] | None = None
    ) -> StreamSummary:
        """One pass over every row, a block at a time: rows per label and per process of a job of
        ``world`` processes; ``on_block`` is given each block (e.g. to count its words)."""
        counts: Counter[str] = Counter()
        part_rows = [0] * world
        by_shard = len(self.shards) >= world
        for block in read_ahead(self.blocks()):
            counts.update(block.labels)
            part_rows[(block.shard if by_shard else block.block) % world] += len(block.texts)
            if on_block is not None:
                on_block(block)
        return StreamSummary(sum(part_rows), dict(counts), tuple(part_rows))

    def windows(
        self, size: int, *, seed: int, epoch: int, part: tuple[int, int] = (0, 1), skip: int = 0
    ) -> Iterator[tuple[list[str], list[str]]]:
        """``(texts, labels)`` of the part's rows in shuffled windows of ``size`` rows (the last
        may be shorter); the first ``skip`` windows are read but not built (a resumed epoch)."""
        blocks = self.blocks(part, self.shard_order(seed, epoch))
        rows = (TextRows(block.texts, block.labels) for block in blocks)
        for window in shuffled_windows(rows, size, seed=seed, epoch=epoch, skip=skip):
            yield window.texts, window.labels

    def _shard_blocks(self, index: int, part: tuple[int, int]) -> Iterator[TextBlock]:
        """The blocks of shard ``index`` that process ``part`` reads."""
        shard = self.shards[index]
        names = self._columns[index] if self._columns else None
        first_row = 0
        batches = iter_batches(
            shard,
            encoding=self.encoding,
            string_columns=[self.text, self.label],
            block_size=self.block_size,
            columns=names,
        )
        for number, table in enumerate(batches):
            if self.owns(part, index, number):
                yield self._block(table, index, number, first_row)
                release_freed_memory()  # the block's Arrow buffers and strings
            first_row += table.num_rows

    def _block(self, table: pa.Table, shard: int, number: int, first_row: int) -> TextBlock:
        texts = table.column(self.text).to_pylist()
        labels = [(label or "").strip() for label in table.column(self.label).to_pylist()]
        if not all(labels):
            row = first_row + labels.index("") + 1
            raise DataError(
                "missing label; fill it in or remove the row (streamed data is not cleaned: "
                "run `modelcycle clean` on it first)",
                path=self.shards[shard],
                row=row,
                column=self.label,
            )
        return TextBlock(["" if t is None else t for t in texts], labels, shard, number)


T = TypeVar("T")


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items``, the next one made on a background thread while the caller works on this one
    (pyarrow, polars and PyTorch release the GIL, so the two overlap on as many cores); the
    thread is joined before this generator ends, however it ends."""
    with ThreadPoolExecutor(1, thread_name_prefix="modelcycle-stream") as pool:
        ahead = pool.submit(next, items, None)
        while (item := ahead.result()) is not None:
            ahead = pool.submit(next, items, None)
            yield item


class Rows(Protocol):
    """Rows that :func:`shuffled_windows` can cut, join and permute."""

    def __len__(self) -> int: ...

    def take(self, index: slice | np.ndarray) -> Self: ...

    def then(self, other: Self) -> Self: ...


R = TypeVar("R", bound=Rows)


def shuffled_windows(
    blocks: Iterable[R], size: int, *, seed: int, epoch: int, skip: int = 0
) -> Iterator[R]:
    """The rows of ``blocks`` in windows of ``size`` rows (the last may be shorter), each
    permuted by one generator seeded with ``(seed, epoch)``; the first ``skip`` windows are
    drawn but not built, so later windows stay put."""
    rng = np.random.default_rng([seed, epoch])  # the in-memory shuffle's generator
    pending: R | None = None
    number = 0
    for block in blocks:
        pending = block if pending is None else pending.then(block)
        while len(pending) >= size:
            window, pending = pending.take(slice(0, size)), pending.take(slice(size, None))
            order = rng.permutation(size)
            if number >= skip:
                yield window.take(order)
            number += 1
    if pending is not None and len(pending):
        order = rng.permutation(len(pending))
        if number >= skip:
            yield pending.take(order)


def resolve_shards(path: str | Path) -> tuple[Path, ...]:
    """The data files of ``path``: the file itself, a folder's data files, or a glob's matches
    (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and _is_data(p))
        where = "in this folder"
    elif path.exists() or not glob.has_magic(str(path)):
        file_format(path)  # an unsupported extension names itself
        if not path.exists():
            raise DataError("file not found", path=path)
        return (path,)
    else:
        found = sorted(Path(p) for p in glob.glob(str(path)) if _is_data(Path(p)))
        where = "matching this pattern"
    if not found:
        raise DataError(f"no data files (.csv, .tsv, .parquet, .jsonl) {where}", path=path)
    return tuple(found)


def _is_data(path: Path) -> bool:
    try:
        file_format(path)
    except ModelcycleError:
        return False
    return path.is_file()
