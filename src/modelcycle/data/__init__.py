"""Loading and writing labeled text: CSV, TSV, Parquet and JSONL, optionally compressed."""

from modelcycle.data._bundled import ROTTEN_TOMATOES, BundledCorpus
from modelcycle.data._dataset import LABEL_CANDIDATES, TEXT_CANDIDATES, Dataset, load_dataset
from modelcycle.data._read import file_format
from modelcycle.data._write import write_table

__all__ = [
    "LABEL_CANDIDATES",
    "ROTTEN_TOMATOES",
    "TEXT_CANDIDATES",
    "BundledCorpus",
    "Dataset",
    "file_format",
    "load_dataset",
    "write_table",
]
