"""The optimiser registry: every optimiser by name, the flags each honours, the training
parameters' constraints and each family's default learning rates. The one place that knows
them (no PyTorch here: the linear families and the CLI read it without loading torch).

``--optimizer`` and its flags travel ``cli/train.py`` → :class:`~modelcycle.config.TrainConfig`
(plain data) → ``training/_train.py`` (makes the model) → the family's estimator, whose ``fit``
builds one :class:`OptimizerSettings` — the only check of the optimiser's parameters
(:data:`OPTIMIZER_PARAMS`) — and hands it, unchecked again, to
:class:`~modelcycle.engine.optim.TrainingOptimizer` (in the loop's settings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    "OPTIMIZER_PARAMS",
    "SCHEDULES",
    "TRAINING_CONSTRAINTS",
    "OptimizerSettings",
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

OPTIMIZER_PARAMS = ("optimizer", "lr", "weight_decay", "momentum", "schedule", "warmup")
"""The estimator parameters that make an :class:`OptimizerSettings` (and are checked by it)."""

TRAINING_CONSTRAINTS: dict[str, Any] = {
    # the optimiser's parameters are checked once, when fit builds OptimizerSettings from them
    **dict.fromkeys(OPTIMIZER_PARAMS, "no_validation"),
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "patience": [Interval(Integral, 1, None, closed="left"), None],
    "clip_grad": [Interval(Real, 0, None, closed="neither"), None],
    "class_weight": [StrOptions({"balanced"}), dict, None],
    "random_state": ["random_state"],
}
"""scikit-learn constraints of the training parameters every gradient-trained estimator takes."""


_NUMBER_RULES: tuple[tuple[str, Callable[[float], bool], str], ...] = (
    ("lr", lambda v: v > 0, "a positive number"),
    ("weight_decay", lambda v: v >= 0, "a number >= 0"),
    ("momentum", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ("warmup", lambda v: 0 <= v < 1, "a share of the steps in [0, 1)"),
    ("sparse_grad_scale", lambda v: v > 0, "a positive number"),
)


@dataclass(frozen=True)
class OptimizerSettings:
    """An optimiser by name with its hyper-parameters, checked against the registry when made
    (the one check: what receives the settings trusts them)."""

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
        for flag, valid, rule in _NUMBER_RULES:
            value = getattr(self, flag)
            if isinstance(value, bool) or not isinstance(value, Real) or not valid(float(value)):
                raise ConfigError(f"{flag} must be {rule}, got {value!r}")
        for flag in ("momentum", "weight_decay"):
            if getattr(self, flag) and flag not in HONOURED_FLAGS[self.name]:
                takers = [name for name in OPTIMIZERS if flag in HONOURED_FLAGS[name]]
                raise ConfigError(
                    f"optimizer {self.name!r} takes no {flag} (got {getattr(self, flag)}); "
                    f"{flag} applies to: {', '.join(takers)}; drop it or choose one of those"
                )

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        *,
        rates: Mapping[str, float],
        sparse_grad_scale: float = 1.0,
    ) -> OptimizerSettings:
        """The settings an estimator's parameters (:data:`OPTIMIZER_PARAMS`) name; ``lr`` None
        takes the optimiser's rate in ``rates`` (the family's, see :data:`DEFAULT_LR`)."""
        name, lr = params["optimizer"], params["lr"]
        return cls(
            name=name,
            # an unknown name has no rate: __post_init__ refuses the name first
            lr=rates.get(name, 0.0) if lr is None else lr,
            weight_decay=params["weight_decay"],
            momentum=params["momentum"],
            schedule=params["schedule"],
            warmup=params["warmup"],
            sparse_grad_scale=sparse_grad_scale,
        )
