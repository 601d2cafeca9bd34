"""Training: fit a model family, chosen by name, on a dataset in memory or streamed from files
larger than memory; compare optimisers; the torchrun context a process runs in
(from_environment); launch data-parallel processes (``--nproc``)."""

from modelcycle.engine.distributed import from_environment
from modelcycle.engine.optimizers import COMPARED_OPTIMIZERS
from modelcycle.training._launch import launch
from modelcycle.training._train import (
    STREAM_CHECKPOINT_EVERY,
    OptimizerComparison,
    TrainResult,
    compare_optimizers,
    open_training_data,
    train,
    train_and_save,
)

__all__ = [
    "COMPARED_OPTIMIZERS",
    "STREAM_CHECKPOINT_EVERY",
    "OptimizerComparison",
    "TrainResult",
    "compare_optimizers",
    "from_environment",
    "launch",
    "open_training_data",
    "train",
    "train_and_save",
]
