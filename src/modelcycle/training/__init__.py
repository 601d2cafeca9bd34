"""Training: fit a model family, chosen by name, on a dataset."""

from modelcycle.training._train import TrainResult, train

__all__ = ["TrainResult", "train"]
