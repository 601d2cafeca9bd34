"""Loading and writing labeled text: CSV, TSV, Parquet and JSONL, optionally compressed;
streaming it block by block when it is larger than memory (:class:`TextStream`)."""

from modelcycle.data._bundled import ROTTEN_TOMATOES, BundledCorpus
from modelcycle.data._dataset import (
    LABEL_CANDIDATES,
    TEXT_CANDIDATES,
    Dataset,
    load_dataset,
    resolve_columns,
)
from modelcycle.data._memory import release_freed_memory, use_system_allocator
from modelcycle.data._read import file_format, iter_batches, read_columns
from modelcycle.data._stream import (
    DEFAULT_SHUFFLE_BUFFER,
    STREAM_THRESHOLD,
    StreamSummary,
    TextBlock,
    TextRows,
    TextStream,
    read_ahead,
    resolve_shards,
    shuffled_windows,
)
from modelcycle.data._write import TableWriter, write_table

__all__ = [
    "DEFAULT_SHUFFLE_BUFFER",
    "LABEL_CANDIDATES",
    "ROTTEN_TOMATOES",
    "STREAM_THRESHOLD",
    "TEXT_CANDIDATES",
    "BundledCorpus",
    "Dataset",
    "StreamSummary",
    "TableWriter",
    "TextBlock",
    "TextRows",
    "TextStream",
    "file_format",
    "iter_batches",
    "load_dataset",
    "read_ahead",
    "read_columns",
    "release_freed_memory",
    "resolve_columns",
    "resolve_shards",
    "shuffled_windows",
    "use_system_allocator",
    "write_table",
]
