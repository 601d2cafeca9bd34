"""Linear models over TF-IDF n-grams: the seed's logistic regression, a strong fast baseline."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions

from modelcycle.features import EngineeredFeaturizer, TfidfFeaturizer, check_feature_names
from modelcycle.models._base import ModelState, TextClassifier, require_tensors


class TfidfLogisticRegression(TextClassifier):
    """TF-IDF word n-grams (1-2 by default) and an L2-regularised logistic regression.

    ``features`` appends engineered features (``("length", "negations")``, see
    :data:`modelcycle.features.ENGINEERED_FEATURES`), standardised on the training texts.

    Example::

        model = TfidfLogisticRegression(C=4.0).fit(["great film", "dull film"], ["pos", "neg"])
        model.predict(["a great story"])   # array(['pos'], dtype='<U3')
    """

    family = "logreg"
    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012 - scikit-learn's convention
        "ngram_range": [tuple, list],
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "sublinear_tf": ["boolean"],
        "C": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "features": [tuple, list],
    }

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        C: float = 4.0,
        max_iter: int = 1000,
        class_weight: str | None = None,
        random_state: int | None = None,
        features: tuple[str, ...] = (),
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.random_state = random_state
        self.features = features

    def _fit(self, texts: list[str], targets: np.ndarray) -> None:
        low, high = (int(n) for n in self.ngram_range)
        featurizer = TfidfFeaturizer(
            ngram_range=(low, high),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
        )
        self.featurizer_, matrix = featurizer.fit_transform(texts)
        self.engineered_ = None
        if self.features:
            names = tuple(check_feature_names(list(self.features)))
            self.engineered_, extra = EngineeredFeaturizer(names=names).fit_transform(texts)
            matrix = sp.hstack([matrix, sp.csr_matrix(extra)], format="csr")
        classifier = LogisticRegression(
            C=self.C,
            max_iter=self.max_iter,
            class_weight=self.class_weight,
            random_state=self.random_state,
        ).fit(matrix, targets)
        self.coef_ = classifier.coef_  # (1, n_features) for two classes, else (n_classes, ...)
        self.intercept_ = classifier.intercept_

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return linear_proba(self._matrix(texts), self.coef_, self.intercept_)

    def _matrix(self, texts: list[str]) -> sp.csr_matrix:
        matrix = self.featurizer_.transform(texts)
        if self.engineered_ is None:
            return matrix
        extra = sp.csr_matrix(self.engineered_.transform(texts))
        return sp.hstack([matrix, extra], format="csr")

    def get_state(self) -> ModelState:
        self._check_fitted()
        settings, vocabulary, tensors = self.featurizer_.to_state()
        params = {
            **self.get_params(),
            "ngram_range": list(self.ngram_range),
            "features": list(self.features),
        }
        if self.engineered_ is not None:
            settings = {**settings, "features": list(self.engineered_.names)}
            tensors = {**tensors, **self.engineered_.to_tensors()}
        return ModelState(
            params=params,
            classes=self.classes_.tolist(),
            preprocessing=settings,
            tensors={**tensors, "coef": self.coef_, "intercept": self.intercept_},
            documents={"vocabulary": vocabulary},
        )

    @classmethod
    def from_state(cls, state: ModelState) -> Self:
        names = list(state.preprocessing.get("features", []))
        extra = ["feature_mean", "feature_scale"] if names else []
        tensors = require_tensors(state, ["idf", "coef", "intercept", *extra])
        params = {
            **state.params,
            "ngram_range": tuple(state.params["ngram_range"]),
            "features": tuple(state.params.get("features", ())),
        }
        model = cls(**params)
        model.featurizer_ = TfidfFeaturizer.from_state(
            state.preprocessing, state.documents["vocabulary"], tensors
        )
        model.engineered_ = EngineeredFeaturizer.from_tensors(names, tensors) if names else None
        model.coef_ = tensors["coef"]
        model.intercept_ = tensors["intercept"]
        model.classes_ = np.asarray(state.classes)
        return model


def linear_proba(matrix: sp.csr_matrix, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Probabilities of a linear model: sigmoid for one weight row (two classes), else softmax."""
    scores = np.asarray(matrix @ coef.T) + intercept  # (n_texts, n_rows)
    if coef.shape[0] == 1:
        positive = expit(scores[:, 0])
        return np.column_stack([1.0 - positive, positive])
    return softmax(scores, axis=1)
