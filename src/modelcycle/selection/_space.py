"""What the search tries: each family's hyperparameters as Optuna suggestions.

Parameter names carry their family (``logreg.C``, ``fasttext.dim``), so that the samplers learn
each family's space apart. Learning rates are searched as a factor of the family's default rate
for the chosen optimiser (``modelcycle.engine.optimizers.DEFAULT_LR``), so that one range fits
every optimiser. Every family is first tried with its defaults (``STARTING_POINTS``: the
transformer twice, with the frozen encoder, the cheap look, then fine-tuned for an epoch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelcycle.engine.optimizers import DEFAULT_LR

__all__ = ["GRADIENT_FAMILIES", "STARTING_POINTS", "starting_points", "suggest"]

GRADIENT_FAMILIES = frozenset({"fasttext", "mlp", "transformer"})
"""Families trained epoch by epoch (their trials report per-epoch accuracy to the pruner)."""

STARTING_POINTS: dict[str, tuple[dict[str, Any], ...]] = {
    "transformer": ({"freeze": True}, {"freeze": False, "epochs": 1}),
}
"""Each family's first trials, one per entry: its defaults with these changes (else its defaults
alone). Fine-tuning is where the transformer wins on short texts (SST-2 0.878, MR 0.828, against
0.834 and 0.796 for the best linear defaults), and the sampler's draws reached it only by chance:
the runs that spent the transformer's time on frozen trials picked a linear model instead."""


def starting_points(family: str, fixed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The distinct parameters of ``family``'s starting trials, the user's ``fixed`` ones won."""
    points: list[dict[str, Any]] = []
    for point in STARTING_POINTS.get(family, ({},)):
        params = {**point, **fixed}
        if params not in points:
            points.append(params)
    return points


def _tfidf(trial: Any, family: str) -> dict[str, Any]:
    top = trial.suggest_int(f"{family}.ngram_max", 1, 3)
    return {
        "ngram_range": [1, top],
        "min_df": trial.suggest_int(f"{family}.min_df", 1, 5),
    }


def _lr(trial: Any, family: str, rates: str, optimizer: str) -> float:
    factor = trial.suggest_float(f"{family}.lr_factor", 0.2, 5.0, log=True)
    return DEFAULT_LR[rates][optimizer] * factor


def _linear(trial: Any, family: str) -> dict[str, Any]:
    low, high = (0.01, 10.0) if family == "svm" else (0.1, 100.0)
    return {**_tfidf(trial, family), "C": trial.suggest_float(f"{family}.C", low, high, log=True)}


def _fasttext(trial: Any) -> dict[str, Any]:
    optimizer = trial.suggest_categorical("fasttext.optimizer", ["adagrad", "sgd", "adam"])
    return {
        "optimizer": optimizer,
        "lr": _lr(trial, "fasttext", "fasttext", optimizer),
        "dim": trial.suggest_categorical("fasttext.dim", [10, 25, 50, 100]),
        "epochs": trial.suggest_int("fasttext.epochs", 2, 15),
        "ngrams": trial.suggest_int("fasttext.ngrams", 1, 3),
        "buckets": trial.suggest_categorical("fasttext.buckets", [100_000, 500_000, 2_000_000]),
    }


def _mlp(trial: Any) -> dict[str, Any]:
    optimizer = trial.suggest_categorical("mlp.optimizer", ["sgd", "adam"])
    width = trial.suggest_categorical("mlp.hidden", [64, 256])
    return {
        **_tfidf(trial, "mlp"),
        "optimizer": optimizer,
        "lr": _lr(trial, "mlp", "neural", optimizer),
        "hidden": [width],
        "dropout": trial.suggest_float("mlp.dropout", 0.0, 0.5),
        "epochs": trial.suggest_int("mlp.epochs", 5, 30),
    }


def _transformer(trial: Any) -> dict[str, Any]:
    if trial.suggest_categorical("transformer.freeze", [True, False]):
        return {"freeze": True, "epochs": trial.suggest_int("transformer.head_epochs", 5, 30)}
    return {
        "freeze": False,
        "lr": _lr(trial, "transformer", "transformer", "adamw"),
        "epochs": trial.suggest_int("transformer.epochs", 1, 3),
    }


def suggest(trial: Any, family: str, fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The model parameters of ``trial`` (an ``optuna.Trial``) for ``family``: the family's
    starting point (``start_point``, default the first) on a trial marked ``start``, else
    sampled (also for a stored start that ``fixed``, given on resuming, made the same as an
    earlier one); ``fixed`` (the user's) win."""
    points = starting_points(family, fixed) if trial.user_attrs.get("start") else []
    point = int(trial.user_attrs.get("start_point", 0))
    if point < len(points):
        params = points[point]
    elif family in ("logreg", "svm", "nb"):
        params = _linear(trial, family)
    elif family == "fasttext":
        params = _fasttext(trial)
    elif family == "mlp":
        params = _mlp(trial)
    else:
        params = _transformer(trial)
    return {**params, **fixed}
