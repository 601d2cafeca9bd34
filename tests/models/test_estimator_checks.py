"""scikit-learn's estimator checks: the numeric :class:`NeuralClassifier` passes them all; the
text families declare string input (so scikit-learn runs the checks that need no numeric
matrix) and work with scikit-learn's tools, whatever the type of their labels."""

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.exceptions import SkipTestWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

from modelcycle.models import MODELS, TextClassifier, make_model
from modelcycle.models.neural import NeuralClassifier
from tests.conftest import NEGATIVE, POSITIVE
from tests.models import TINY

SMALL: dict[str, dict[str, Any]] = {
    **TINY,
    "transformer": {"freeze": True, "epochs": 20, "batch_size": 8},  # + the tiny backbone
}
FEW_PASSES: dict[str, dict[str, Any]] = {
    "fasttext": {"epochs": 10, "batch_size": 8},
    "mlp": {"epochs": 5, "batch_size": 8},
    "transformer": {"epochs": 5},
}
"""Cheaper settings where a test fits many times and only needs real scores."""
TEXTS = [t for pair in zip(POSITIVE, NEGATIVE, strict=True) for t in pair]
INT_LABELS = np.array([1, 0] * len(POSITIVE))
DATA_FREE_CHECKS = [
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_do_not_raise_errors_in_init_or_set_params,
    check_mixin_order,
    check_get_params_invariance,
    check_set_params,
    check_parameters_default_constructible,
]
"""scikit-learn's API checks that need no data: they apply to estimators of texts too."""


def text_models() -> list[TextClassifier]:
    return [make_model(family, SMALL[family], seed=0) for family in MODELS]


def small_model(family: str, request: pytest.FixtureRequest) -> TextClassifier:
    params = dict(SMALL[family])
    if family == "transformer":
        params["backbone"] = str(request.getfixturevalue("tiny_backbone"))
    return make_model(family, params, seed=0)


with warnings.catch_warnings():
    # For string input scikit-learn checks only that an estimator clones, and warns that it
    # skips the rest: DATA_FREE_CHECKS and the tests below check the text families further.
    warnings.simplefilter("ignore", SkipTestWarning)
    ALL_CHECKS = parametrize_with_checks(
        [
            NeuralClassifier(epochs=20, batch_size=32, lr=0.05, random_state=0),
            NeuralClassifier(hidden=(16,), epochs=20, batch_size=32, lr=0.01, random_state=0),
            *text_models(),
        ]
    )


@ALL_CHECKS
def test_scikit_learn_estimator_checks(estimator: Any, check: Callable[[Any], None]) -> None:
    check(estimator)


def test_every_family_is_checked() -> None:
    assert set(SMALL) == set(MODELS)


@pytest.mark.parametrize("model", text_models(), ids=list(MODELS))
def test_text_families_declare_string_input(model: TextClassifier) -> None:
    tags = get_tags(model)
    assert (tags.input_tags.string, tags.input_tags.one_d_array) == (True, True)
    assert not tags.input_tags.two_d_array
    assert tags.target_tags.required


@pytest.mark.parametrize("model", text_models(), ids=list(MODELS))
@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda check: check.__name__)
def test_text_families_pass_the_data_free_checks(
    model: TextClassifier, check: Callable[..., None]
) -> None:
    partial(check, type(model).__name__)(model)


@pytest.mark.parametrize("family", list(MODELS))
def test_labels_keep_their_type(family: str, request: pytest.FixtureRequest) -> None:
    model = small_model(family, request).set_params(**FEW_PASSES.get(family, {}))
    with pytest.raises(SklearnNotFittedError, match="not fitted yet"):
        model.predict(TEXTS)
    fitted = model.fit(TEXTS, INT_LABELS)
    assert fitted.classes_.tolist() == [0, 1]
    assert fitted.classes_.dtype == INT_LABELS.dtype
    assert fitted.predict(TEXTS).dtype == INT_LABELS.dtype
    assert 0.0 <= fitted.score(TEXTS, INT_LABELS) <= 1.0  # was "Mix of label input types"


@pytest.mark.parametrize("family", list(MODELS))
def test_cross_val_score_and_grid_search_with_integer_labels(
    family: str, request: pytest.FixtureRequest
) -> None:
    """Real scores, where string predictions of integer labels gave nan (the scorer's error
    becomes nan in cross_val_score)."""
    model = small_model(family, request).set_params(**FEW_PASSES.get(family, {}))
    scores = cross_val_score(model, TEXTS, INT_LABELS, cv=3)
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()
    assert ((scores >= 0) & (scores <= 1)).all()
    search = GridSearchCV(clone(model), {"random_state": [0, 1]}, cv=2).fit(TEXTS, INT_LABELS)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(TEXTS).dtype == INT_LABELS.dtype
