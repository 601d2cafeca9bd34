"""Tests of the model families; what several of them share."""

from typing import Any

TINY: dict[str, dict[str, Any]] = {
    "logreg": {"min_df": 1},
    "svm": {"min_df": 1},
    "nb": {"min_df": 1},
    "fasttext": {"epochs": 40, "batch_size": 4, "buckets": 1000},
    "mlp": {"min_df": 1, "epochs": 30, "batch_size": 4, "patience": None},
}
"""Parameters for the tiny test corpus, which needs more passes than the defaults (set for real
datasets); the transformer needs a backbone, which tests/models/test_transformer.py builds."""
