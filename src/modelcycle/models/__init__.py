"""Model families, chosen by name, and how a fitted model is saved and loaded.

Example::

    from modelcycle.models import make_model, save_model, load_model

    model = make_model("logreg", {"C": 4.0}).fit(texts, labels)
    save_model(model, "model/")
    assert (load_model("model/").predict(texts) == model.predict(texts)).all()
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelcycle.artifacts import ModelFiles, read_model_dir, write_model_dir
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.models._base import ModelState, TextClassifier
from modelcycle.models.linear import TfidfLogisticRegression

__all__ = [
    "MODELS",
    "ModelState",
    "TextClassifier",
    "TfidfLogisticRegression",
    "load_model",
    "load_model_files",
    "make_model",
    "save_model",
]

MODELS: dict[str, type[TextClassifier]] = {
    TfidfLogisticRegression.family: TfidfLogisticRegression,
}


def make_model(
    name: str, params: Mapping[str, Any] | None = None, *, seed: int | None = None
) -> TextClassifier:
    """A new, unfitted model of family ``name`` with ``params``; ``seed`` sets ``random_state``."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; valid models are: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    valid = cls().get_params()
    params = dict(params or {})
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown parameter {unknown[0]!r} for model {name!r}; "
            f"valid parameters are: {', '.join(sorted(valid))}"
        )
    if seed is not None and "random_state" in valid and "random_state" not in params:
        params["random_state"] = seed
    return cls(**params)


def save_model(
    model: TextClassifier,
    path: str | Path,
    *,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as a model directory (safetensors + JSON + manifest), atomically."""
    state = model.get_state()
    meta = {
        "family": model.family,
        "labels": state.classes,
        "params": state.params,
        "preprocessing": state.preprocessing,
        "precision": "fp32",
        "metrics": dict(metrics or {}),
        "training": dict(training or {}),
    }
    return write_model_dir(path, meta=meta, tensors=state.tensors, documents=state.documents)


def load_model_files(path: str | Path) -> tuple[TextClassifier, ModelFiles]:
    """Load a verified model directory; returns the model and the files it came from."""
    files = read_model_dir(path)
    family = files.meta.get("family")
    if family not in MODELS:
        raise ArtifactError(
            f"{files.path}: unknown model family {family!r}; "
            f"this modelcycle knows: {', '.join(sorted(MODELS))}"
        )
    state = ModelState(
        params=files.meta.get("params", {}),
        classes=files.meta.get("labels", []),
        preprocessing=files.meta.get("preprocessing", {}),
        tensors=files.tensors,
        documents=files.documents,
    )
    try:
        model = MODELS[family].from_state(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{files.path}: not a valid {family!r} model ({exc!r})") from exc
    return model, files


def load_model(path: str | Path) -> TextClassifier:
    """Load a verified model directory written by :func:`save_model`."""
    return load_model_files(path)[0]
