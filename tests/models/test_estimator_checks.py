"""The classifier that takes a numeric feature matrix passes scikit-learn's estimator checks."""

from collections.abc import Callable
from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from modelcycle.models.neural import NeuralClassifier


@parametrize_with_checks(
    [
        NeuralClassifier(epochs=20, batch_size=32, lr=0.05, random_state=0),
        NeuralClassifier(hidden=(16,), epochs=20, batch_size=32, lr=0.01, random_state=0),
    ]
)
def test_scikit_learn_estimator_checks(estimator: Any, check: Callable[[Any], None]) -> None:
    check(estimator)
