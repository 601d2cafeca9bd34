"""Prediction: labels and per-class scores for new texts, in memory or from file to file.

:func:`predict` labels texts in memory, :func:`predict_dataset` a loaded dataset;
:func:`predict_file` streams a file of any size to an output file, on threads in this process
(``engine="local"``) or on Ray Data (``engine="ray"``, the ``ray`` extra), keeping going past a
bad row. A model's stored threshold can make the answer differ from the class with the top
score; outputs then say so row by row, in a ``changed_by_threshold`` column (or record key).
"""

from modelcycle.prediction._core import CHANGED_COLUMN, Predictions, predict, predict_dataset
from modelcycle.prediction._file import CHUNK_ROWS, ENGINES, predict_file
from modelcycle.prediction._rows import BadRow, FilePredictions

__all__ = [
    "CHANGED_COLUMN",
    "CHUNK_ROWS",
    "ENGINES",
    "BadRow",
    "FilePredictions",
    "Predictions",
    "predict",
    "predict_dataset",
    "predict_file",
]
