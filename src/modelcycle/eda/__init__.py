"""Exploratory data analysis of labeled text: ``profile(dataset) -> EdaReport``.

The report answers, before any training, what is in a dataset and what is wrong with it: rows,
columns, missing values, duplicates (exact and normalized), texts with conflicting labels, label
balance, lengths, word and n-gram frequencies overall and per label, the n-grams that distinguish
each label, text-quality problems, and how a second file (``compare=``) differs. It is written as
``eda.json`` (the fields of DESIGN.md) and ``eda.html`` (one self-contained page with its plots).
"""

from modelcycle.eda._profile import profile
from modelcycle.eda._report import EdaReport

__all__ = ["EdaReport", "profile"]
