"""Model families, chosen by name, and how a fitted model is saved and loaded.

Example::

    from modelcycle.models import make_model, save_model, load_model

    model = make_model("logreg", {"C": 4.0}).fit(texts, labels)
    save_model(model, "model/")
    assert (load_model("model/").predict(texts) == model.predict(texts)).all()
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelcycle.artifacts import MODEL_FILE, ModelFiles, read_model_dir, write_model_dir
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.models._base import ModelState, TextClassifier
from modelcycle.postprocess import Postprocess

__all__ = [
    "LOADABLE",
    "MODELS",
    "ModelState",
    "TextClassifier",
    "load_model",
    "load_model_files",
    "make_model",
    "model_class",
    "save_model",
]

MODELS: dict[str, str] = {
    "logreg": "modelcycle.models.linear:TfidfLogisticRegression",
    "svm": "modelcycle.models.linear:TfidfLinearSVM",
    "nb": "modelcycle.models.linear:NBSVM",
    "fasttext": "modelcycle.models.fasttext:FastTextClassifier",
    "mlp": "modelcycle.models.neural:MLPTextClassifier",
    "transformer": "modelcycle.models.transformer:TransformerClassifier",
}
"""Model families by name. Classes are imported on first use, so that the linear families work
without PyTorch installed (or imported)."""

LOADABLE: dict[str, str] = {**MODELS, "onnx": "modelcycle.models.onnx:OnnxModel"}
"""What :func:`load_model` reads: the trained families and ``onnx``, the exported and quantized
variants that ``modelcycle export`` and ``modelcycle quantize`` write (made, not trained)."""


def model_class(name: str, *, loadable: bool = False) -> type[TextClassifier]:
    """The class of family ``name`` (``loadable``: also the families that are only loaded);
    a ConfigError lists the valid names."""
    families = LOADABLE if loadable else MODELS
    if name not in families:
        raise ConfigError(f"unknown model {name!r}; valid models are: {', '.join(MODELS)}")
    module_name, class_name = families[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = "transformer" if name == "transformer" else "torch"
        raise ConfigError(
            f"model {name!r} needs {exc.name}, which is not installed; "
            f"install it with `pip install 'modelcycle[{extra}]'` (make install does)"
        ) from exc
    cls: type[TextClassifier] = getattr(module, class_name)
    return cls


def make_model(
    name: str, params: Mapping[str, Any] | None = None, *, seed: int | None = None
) -> TextClassifier:
    """A new, unfitted model of family ``name`` with ``params``; ``seed`` sets ``random_state``."""
    cls = model_class(name)
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
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``model`` as a model directory (safetensors + JSON + manifest), atomically.

    A model's ``postprocess_`` (temperature, threshold; see :mod:`modelcycle.postprocess`) is
    saved with it.
    """
    state = model.get_state()
    meta: dict[str, Any] = {
        "family": model.family,
        "labels": state.classes,
        "params": state.params,
        "preprocessing": state.preprocessing,
        "precision": getattr(model, "precision", "fp32"),
        "metrics": dict(metrics or {}),
        "training": dict(training or {}),
    }
    if model.postprocess_ is not None and not model.postprocess_.is_identity:
        meta["postprocess"] = model.postprocess_.to_json()
    return write_model_dir(
        path,
        meta=meta,
        tensors=state.tensors,
        documents=state.documents,
        files={**state.files, **(files or {})},
    )


def load_model_files(path: str | Path) -> tuple[TextClassifier, ModelFiles]:
    """Load a verified model directory; returns the model and the files it came from.

    The model's ``postprocess_`` is the directory's stored post-processing (None if it has none).
    """
    files = read_model_dir(path)
    family = files.meta.get("family")
    if family not in LOADABLE:
        raise ArtifactError(
            f"{files.path}: unknown model family {family!r}; "
            f"this modelcycle knows: {', '.join(LOADABLE)}"
        )
    state = ModelState(
        params=files.meta.get("params", {}),
        classes=files.meta.get("labels", []),
        preprocessing=files.meta.get("preprocessing", {}),
        tensors=files.tensors,
        documents=files.documents,
        files=files.graphs,
    )
    try:
        model = model_class(family, loadable=True).from_state(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"{files.path}: not a valid {family!r} model ({exc!r})") from exc
    if "postprocess" in files.meta:
        try:
            model.postprocess_ = Postprocess.from_json(files.meta["postprocess"], state.classes)
        except ValueError as exc:
            raise ArtifactError(
                f"{files.path / MODEL_FILE}: invalid postprocess ({exc}); "
                "run `modelcycle calibrate` again"
            ) from exc
    return model, files


def load_model(path: str | Path) -> TextClassifier:
    """Load a verified model directory written by :func:`save_model`."""
    return load_model_files(path)[0]
