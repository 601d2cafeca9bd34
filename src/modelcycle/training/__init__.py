"""Training: fit a model family, chosen by name, on a dataset; compare optimisers."""

from modelcycle.engine.optimizers import COMPARED_OPTIMIZERS
from modelcycle.training._train import (
    OptimizerComparison,
    TrainResult,
    compare_optimizers,
    train,
    train_and_save,
)

__all__ = [
    "COMPARED_OPTIMIZERS",
    "OptimizerComparison",
    "TrainResult",
    "compare_optimizers",
    "train",
    "train_and_save",
]
