"""What every text classifier in modelcycle is: a scikit-learn estimator over raw texts whose
learned state is plain data (arrays and JSON), so it saves without pickle."""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, InvalidParameterError

from modelcycle.engine.optimizers import DEFAULT_LR, OptimizerSettings
from modelcycle.exceptions import ArtifactError, ConfigError, DataError, NotFittedError
from modelcycle.features import EngineeredFeaturizer, check_feature_names
from modelcycle.postprocess import Postprocess

NGRAM_CONSTRAINTS: dict[str, list[Any]] = {
    "ngram_range": [tuple, list],
    "min_df": [Interval(Integral, 1, None, closed="left")],
    "max_features": [Interval(Integral, 1, None, closed="left"), None],
}
"""scikit-learn constraints of the word n-gram parameters (the linear families and ``mlp``)."""


@dataclass(frozen=True)
class ModelState:
    """A fitted model as data: parameters, labels, preprocessing, arrays, JSON documents."""

    params: dict[str, Any]
    classes: list[Any]  # the labels as JSON values: strings, or numbers for numeric labels
    preprocessing: dict[str, Any]
    tensors: dict[str, np.ndarray]
    documents: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # other files, e.g. an ONNX graph


class TextClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class: ``fit(texts, labels)``, ``predict_proba(texts)``, ``predict(texts)``.

    ``X`` is a 1-D sequence of texts; labels keep their type (``classes_`` has ``y``'s dtype and
    ``predict`` returns it), so integer labels give integer predictions.

    Subclasses only store keyword-only parameters in ``__init__``, validate them in ``fit``
    against ``_parameter_constraints``, keep learned state in attributes ending in ``_``, and
    implement ``_fit``, ``_predict_proba``, ``get_state`` and ``from_state``.
    """

    family: ClassVar[str]
    streams: ClassVar[bool] = False
    """Whether the family trains on data larger than memory (``fit_stream(stream, ...)``)."""
    classes_: np.ndarray
    postprocess_: Postprocess | None = None
    """Temperature and threshold fitted after training (``modelcycle calibrate``); ``predict``
    and ``predict_proba`` stay raw, :func:`modelcycle.prediction.predict` applies it."""

    def check_params(self) -> Self:
        """Check the parameters as ``fit`` will (a :class:`ConfigError` naming the bad one):
        the family's constraints, and the optimiser's settings, which ``fit`` builds (and so
        checks) once it has seen the data; lets a pipeline refuse them before it runs."""
        self._check_constraints()
        params = self.get_params()
        if params.get("optimizer") is not None:
            OptimizerSettings.from_params(params, rates=DEFAULT_LR["neural"])
        return self

    def _check_constraints(self) -> None:
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise ConfigError(str(exc)) from exc

    def fit(
        self,
        X: Sequence[str],
        y: Sequence[Any] | np.ndarray,
        *,
        val: tuple[Sequence[str], Sequence[Any] | np.ndarray] | None = None,
        run: Any = None,
    ) -> Self:
        """Learn from texts ``X`` and their labels ``y``; returns ``self``.

        ``val`` (texts, labels) is validation data for the gradient-trained families (early
        stopping, the best epoch); ``run`` (:class:`modelcycle.engine.loop.RunOptions`) sets
        checkpoints, resume, progress and device. Closed-form families ignore both.
        """
        self._check_constraints()  # the optimiser's parameters: when _fit builds its settings
        texts = _as_texts(X)
        labels = _as_labels(y, len(texts))
        try:
            self.classes_, targets = np.unique(labels, return_inverse=True)
        except TypeError as exc:  # e.g. 1 and "a": numpy cannot order them
            kinds = sorted({type(label).__name__ for label in labels.tolist()})
            raise DataError(
                f"y mixes label types ({', '.join(kinds)}); give every label the same type, "
                "e.g. all strings"
            ) from exc
        if len(self.classes_) < 2:
            raise DataError(
                f"training needs at least 2 classes, found {len(self.classes_)} "
                f"({', '.join(map(repr, self.classes_.tolist()))})"
            )
        self.postprocess_ = None  # a calibration belongs to the weights it was fitted on
        val_data = None
        if val is not None:
            val_texts = _as_texts(val[0])
            val_labels = _as_labels(val[1], len(val_texts), val=True)
            seen = np.isin(val_labels, self.classes_)
            val_data = (
                [t for t, keep in zip(val_texts, seen, strict=True) if keep],
                np.searchsorted(self.classes_, val_labels[seen]),
            )
        self._fit(texts, targets, val_data, run)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(X), n_classes)``, columns in ``classes_`` order."""
        self._check_fitted()
        return self._predict_proba(_as_texts(X))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label of each text."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # X: a 1-D sequence of texts
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        return tags

    def _target_class_weight(self) -> str | dict[int, float] | None:
        """``class_weight`` as the solvers see it, which learn from target indices: None,
        "balanced", or ``{index into classes_: weight}``."""
        weights = class_weights(getattr(self, "class_weight", None), self.classes_)
        return dict(enumerate(weights)) if isinstance(weights, tuple) else weights

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(texts, labels) first"
            )

    @abstractmethod
    def _fit(
        self,
        texts: list[str],
        targets: np.ndarray,
        val: tuple[list[str], np.ndarray] | None,
        run: Any,
    ) -> None:
        """Learn from texts and integer targets (indices into ``classes_``); ``val`` likewise."""

    @abstractmethod
    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities of validated texts."""

    @abstractmethod
    def get_state(self) -> ModelState:
        """The fitted model as data, for :func:`modelcycle.models.save_model`."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: ModelState) -> Self:
        """Rebuild a fitted model from :meth:`get_state`'s output."""


def class_weights(
    class_weight: str | Mapping[Any, float] | None, classes: np.ndarray
) -> str | tuple[float, ...] | None:
    """``class_weight`` (None, "balanced" or ``{label: weight}``) for the fitted ``classes``:
    a dict becomes one weight per class, 1.0 where it names none. A key matches a label that
    equals it or reads the same (JSON and TOML keys are strings: ``{"1": 2.0}`` weighs label 1).
    """
    if class_weight is None or isinstance(class_weight, str):
        return class_weight
    labels = classes.tolist()
    weights = [1.0] * len(labels)
    for key, weight in class_weight.items():
        matches = [i for i, label in enumerate(labels) if label == key or str(label) == str(key)]
        if not matches:
            raise ConfigError(
                f"class_weight names {key!r}, which is not a training label; "
                f"the labels are: {', '.join(map(repr, labels))}"
            )
        if isinstance(weight, bool) or not isinstance(weight, Real):
            raise ConfigError(f"class_weight[{key!r}] must be a number, got {weight!r}")
        if not (math.isfinite(weight) and weight > 0):
            raise ConfigError(f"class_weight[{key!r}] must be a positive number, got {weight!r}")
        for i in matches:
            weights[i] = float(weight)
    return tuple(weights)


def require_tensors(state: ModelState, expected: Sequence[str]) -> Mapping[str, np.ndarray]:
    """Check that ``state`` holds exactly the ``expected`` tensors; list what is off if not."""
    missing = sorted(set(expected) - set(state.tensors))
    unexpected = sorted(set(state.tensors) - set(expected))
    if missing or unexpected:
        raise ArtifactError(
            f"weights do not match the model: missing {missing or 'none'}, "
            f"unexpected {unexpected or 'none'}; re-create the model"
        )
    return state.tensors


@dataclass(frozen=True)
class ExtraInputs:
    """Engineered features (``features=("length", ...)``) appended to a family's inputs,
    standardised on the training texts; ``featurizer`` is None when none were asked for."""

    featurizer: EngineeredFeaturizer | None

    @classmethod
    def fit(cls, names: Sequence[str], texts: list[str]) -> tuple[ExtraInputs, np.ndarray | None]:
        if not names:
            return cls(None), None
        chosen = tuple(check_feature_names(list(names)))
        featurizer, values = EngineeredFeaturizer(names=chosen).fit_transform(texts)
        return cls(featurizer), values

    def transform(self, texts: list[str]) -> np.ndarray | None:
        return None if self.featurizer is None else self.featurizer.transform(texts)

    @property
    def width(self) -> int:
        return 0 if self.featurizer is None else len(self.featurizer.names)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(preprocessing entries, tensors)`` to save."""
        if self.featurizer is None:
            return {}, {}
        return {"features": list(self.featurizer.names)}, self.featurizer.to_tensors()

    @classmethod
    def from_state(
        cls, preprocessing: Mapping[str, Any], tensors: Mapping[str, np.ndarray]
    ) -> ExtraInputs:
        names = list(preprocessing.get("features", []))
        if not names:
            return cls(None)
        return cls(EngineeredFeaturizer.from_tensors(names, tensors))

    def tensor_names(self) -> list[str]:
        return [] if self.featurizer is None else ["feature_mean", "feature_scale"]


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Estimator parameters as JSON-ready values: tuples become lists, numpy scalars Python
    numbers, a dict's keys strings (``class_weight={1: 2.0}`` reads back as ``{"1": 2.0}``,
    which weighs the same label)."""
    return {k: _json_value(v) for k, v in params.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def tuple_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters read back from JSON (lists become tuples again)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _as_texts(X: Sequence[str]) -> list[str]:
    if isinstance(X, str):
        raise DataError("expected a list of texts, got a single string; wrap it in a list")
    shape = getattr(X, "shape", None)  # arrays and data frames: a text per row of 1 column
    if shape is not None and len(shape) != 1:
        raise DataError(
            f"X must be a 1-D sequence of texts, got an array of shape {tuple(shape)}; "
            "pass the text column alone"
        )
    return ["" if text is None else str(text) for text in X]


def _as_labels(y: Sequence[Any] | np.ndarray, n_texts: int, *, val: bool = False) -> np.ndarray:
    """``y`` (or the validation labels) as a 1-D array of ``n_texts`` discrete labels, their
    type kept."""
    labels = np.asarray(y)
    name, prefix = ("val labels", "val ") if val else ("y", "")
    if labels.ndim != 1:
        raise DataError(
            f"{name} must be 1-D, one label per text, got an array of shape {labels.shape}; "
            "pass the label column alone (e.g. y.ravel() for a single column)"
        )
    if len(labels) != n_texts:
        raise DataError(f"got {n_texts} {prefix}texts but {len(labels)} {prefix}labels")
    if labels.dtype.kind in "fO":
        missing = [
            i for i, label in enumerate(labels.tolist()) if label is None or label != label
        ]  # None or NaN
        if missing:
            raise DataError(
                f"{name}: text {missing[0] + 1} (counted from 1) has no label; "
                f"{len(missing)} labels are missing"
            )
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        example = float(labels[labels != np.round(labels)][0])
        raise DataError(
            f"{name} looks continuous (e.g. {example}); a classifier needs discrete labels, "
            "e.g. classes as strings or integers"
        )
    return labels
