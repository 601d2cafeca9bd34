"""Training: fit a model family, chosen by name, on a dataset; compare optimisers; the
torchrun context a process runs in (from_environment)."""

from modelcycle.engine.distributed import from_environment
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
    "from_environment",
    "train",
    "train_and_save",
]
