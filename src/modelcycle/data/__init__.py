"""Loading and writing labeled text: CSV, TSV, Parquet and JSONL, optionally compressed."""

from modelcycle.data._bundled import ROTTEN_TOMATOES, BundledCorpus
from modelcycle.data._dataset import (
    LABEL_CANDIDATES,
    TEXT_CANDIDATES,
    Dataset,
    load_dataset,
    resolve_columns,
)
from modelcycle.data._read import file_format, iter_batches, read_columns
from modelcycle.data._write import TableWriter, write_table

__all__ = [
    "LABEL_CANDIDATES",
    "ROTTEN_TOMATOES",
    "TEXT_CANDIDATES",
    "BundledCorpus",
    "Dataset",
    "TableWriter",
    "file_format",
    "iter_batches",
    "load_dataset",
    "read_columns",
    "resolve_columns",
    "write_table",
]
