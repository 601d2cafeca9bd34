"""Where a run keeps its fixed blocks between the two passes (memory, or an Arrow file), and where
it writes its output (memory, or the output file and its siblings)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import polars as pl
import pyarrow as pa
import pyarrow.ipc as pa_ipc

from modelcycle.data import TableWriter


class Store(Protocol):
    """The fixed blocks of pass 1, read back in order by pass 2."""

    def append(self, frame: pl.DataFrame) -> None: ...

    def batches(self) -> Iterator[pl.DataFrame]: ...


class Sink(Protocol):
    """Where pass 2 writes the output, the removed and the changed rows (``kind``)."""

    label_issues: pl.DataFrame | None

    def write(self, kind: str, frame: pl.DataFrame) -> None: ...


def arrow_frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


class MemoryStore:
    """The blocks kept in memory (for :func:`~modelcycle.cleaning.clean`)."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def append(self, frame: pl.DataFrame) -> None:
        self.frames.append(frame)

    def batches(self) -> Iterator[pl.DataFrame]:
        return iter(self.frames)


class SpillStore:
    """The fixed blocks, spilled to an Arrow IPC file so that pass 2 needs no second parse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pa_ipc.RecordBatchFileWriter | None = None
        self.schema: pa.Schema | None = None

    def append(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self.writer is None:
            self.schema = table.schema
            self.writer = pa_ipc.new_file(str(self.path), table.schema)
        self.writer.write_table(table.cast(self.schema))

    def batches(self) -> Iterator[pl.DataFrame]:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        with pa.OSFile(str(self.path)) as source:  # read, not mapped: memory stays bounded
            reader = pa_ipc.open_file(source)
            for index in range(reader.num_record_batches):
                yield arrow_frame(pa.Table.from_batches([reader.get_batch(index)]))


class MemorySink:
    """The outputs kept in memory as lists of frames by kind."""

    def __init__(self) -> None:
        self.frames: dict[str, list[pl.DataFrame]] = {"out": [], "removed": [], "changed": []}
        self.label_issues: pl.DataFrame | None = None

    def write(self, kind: str, frame: pl.DataFrame) -> None:
        self.frames[kind].append(frame)


class FileSink:
    """Writers for the output and its siblings: they close with ``stack``, and their files
    appear only if everything before succeeded."""

    def __init__(self, stack: contextlib.ExitStack, out: Path, siblings: dict[str, Path]) -> None:
        self.stack = stack
        self.siblings = siblings
        self.writers = {
            "out": stack.enter_context(TableWriter(out)),
            "removed": stack.enter_context(TableWriter(siblings["removed"])),
            "changed": stack.enter_context(TableWriter(siblings["changed"])),
        }
        self._issues: pl.DataFrame | None = None

    @property
    def label_issues(self) -> pl.DataFrame | None:
        return self._issues

    @label_issues.setter
    def label_issues(self, frame: pl.DataFrame | None) -> None:
        self._issues = frame
        if frame is not None:
            writer = self.stack.enter_context(TableWriter(self.siblings["label_issues"]))
            writer.write(frame)

    def write(self, kind: str, frame: pl.DataFrame) -> None:
        self.writers[kind].write(frame)
