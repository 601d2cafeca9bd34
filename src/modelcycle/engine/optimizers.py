"""The optimiser registry: every optimiser by name, the flags each honours, the training
parameters' constraints and each family's default learning rates. The one place that knows
them (no PyTorch here: the linear families and the CLI read it without loading torch).

``--optimizer`` travels CLI → :class:`~modelcycle.config.TrainConfig` → the family's estimator
(whose ``_validate_params`` checks :data:`TRAINING_CONSTRAINTS`) → :class:`OptimizerSettings`
(which refuses a flag the optimiser does not honour) → :class:`~modelcycle.engine.optim.
TrainingOptimizer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Interval, StrOptions

from modelcycle.exceptions import ConfigError

__all__ = [
    "COMPARED_OPTIMIZERS",
    "DEFAULT_LR",
    "HONOURED_FLAGS",
    "OPTIMIZERS",
    "SCHEDULES",
    "TRAINING_CONSTRAINTS",
    "OptimizerSettings",
    "default_lr",
]

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adamw")
COMPARED_OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
"""The optimisers ``modelcycle train --compare-optimizers`` trains with."""
SCHEDULES = ("constant", "linear", "cosine")

HONOURED_FLAGS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "weight_decay"}),
    "rmsprop": frozenset({"momentum", "weight_decay"}),
    "adam": frozenset({"weight_decay"}),
    "adamw": frozenset({"weight_decay"}),  # decoupled from the gradient, as AdamW defines it
    "adagrad": frozenset({"weight_decay"}),
}
"""The optimiser flags (beyond ``lr``, ``schedule`` and ``warmup``, which all honour) that each
optimiser takes; a flag set for an optimiser without it is refused, in every family."""

_NEURAL_LR = {"sgd": 0.5, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.01, "adagrad": 0.5}
DEFAULT_LR: dict[str, dict[str, float]] = {
    # rates that train well without tuning on TF-IDF and standardised features
    "neural": _NEURAL_LR,
    # a linear model's convex loss takes a larger SGD step than the networks' 0.5 (logreg, rate
    # 5 against 0.5: MR 0.784 against 0.736, SST-2 0.823 against 0.805, IMDB 0.896 against
    # 0.861; svm on MR 0.773 against 0.715)
    "linear": {**_NEURAL_LR, "sgd": 5.0},
    # SGD on the mean loss of fastText's default batches: MR (batch 32) 0.779 and IMDB (32)
    # 0.879, where rate 0.08 per example at batch 256 gave 0.56 and 0.67 (too few steps); SST-2
    # (64) 0.821 against 0.794 (means of 2-3 seeds). The adaptive rates are for batches of up
    # to ``fasttext.IDS_PER_BATCH`` ids; ``fasttext.default_lr`` scales them for larger ones.
    "fasttext": {"sgd": 8.0, "adagrad": 0.1, "rmsprop": 0.005, "adam": 0.01, "adamw": 0.01},
    # fine-tuning a pretrained encoder without wrecking it (BERT's 2e-5–5e-5 for Adam)
    "transformer": {"adamw": 5e-5, "adam": 5e-5, "rmsprop": 2e-5, "adagrad": 1e-3, "sgd": 1e-2},
    # the head alone on a frozen encoder's standardised embeddings
    "transformer_head": {"adamw": 1e-2, "adam": 1e-2, "rmsprop": 1e-2, "adagrad": 0.1, "sgd": 0.1},
}
"""Each family's learning rate per optimiser, used when ``lr`` is None."""

TRAINING_CONSTRAINTS: dict[str, list[Any]] = {
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "lr": [Interval(Real, 0, None, closed="neither"), None],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "schedule": [StrOptions(set(SCHEDULES))],
    "warmup": [Interval(Real, 0, 1, closed="left")],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "patience": [Interval(Integral, 1, None, closed="left"), None],
    "clip_grad": [Interval(Real, 0, None, closed="neither"), None],
    "class_weight": [StrOptions({"balanced"}), dict, None],
    "random_state": ["random_state"],
}
"""scikit-learn constraints of the training parameters every gradient-trained estimator takes."""


def default_lr(family: str, optimizer: str) -> float:
    """The learning rate ``family`` trains with under ``optimizer`` when none is given."""
    return DEFAULT_LR[family][optimizer]


@dataclass(frozen=True)
class OptimizerSettings:
    """An optimiser by name with its hyper-parameters, checked against the registry."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    schedule: str = "constant"
    warmup: float = 0.0  # share of all steps spent warming up linearly from 0
    sparse_grad_scale: float = 1.0  # SGD's multiplier of sparse gradients (see LazySparse)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.name!r}; valid optimizers are: {', '.join(OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown schedule {self.schedule!r}; valid schedules are: {', '.join(SCHEDULES)}"
            )
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if not self.sparse_grad_scale > 0:
            raise ConfigError(f"sparse_grad_scale must be positive, got {self.sparse_grad_scale}")
        if not 0.0 <= self.warmup < 1.0:
            raise ConfigError(f"warmup must be a share of the steps in [0, 1), got {self.warmup}")
        for flag in ("momentum", "weight_decay"):
            if getattr(self, flag) and flag not in HONOURED_FLAGS[self.name]:
                takers = [name for name in OPTIMIZERS if flag in HONOURED_FLAGS[name]]
                raise ConfigError(
                    f"optimizer {self.name!r} takes no {flag} (got {getattr(self, flag)}); "
                    f"{flag} applies to: {', '.join(takers)}; drop it or choose one of those"
                )

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, family_lr: float) -> OptimizerSettings:
        """The settings an estimator's parameters name; ``lr`` None takes ``family_lr`` (the
        family's rate, see :data:`DEFAULT_LR`)."""
        return cls(
            name=params["optimizer"],
            lr=params["lr"] if params["lr"] is not None else family_lr,
            weight_decay=params["weight_decay"],
            momentum=params["momentum"],
            schedule=params["schedule"],
            warmup=params["warmup"],
        )
