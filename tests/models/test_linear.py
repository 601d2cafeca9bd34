from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from modelcycle.data import load_dataset
from modelcycle.engine.optimizers import DEFAULT_LR
from modelcycle.exceptions import ConfigError
from modelcycle.features import tokens_of
from modelcycle.models import load_model, make_model, save_model
from modelcycle.models.linear import (
    NBSVM,
    TfidfLinearSVM,
    TfidfLogisticRegression,
    linear_proba,
)


def reference_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        tokenizer=tokens_of,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        sublinear_tf=True,
    )


def test_logreg_matches_scikit_learn_pipeline(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1, C=2.0, random_state=0).fit(data.texts, data.labels)
    vectorizer = reference_vectorizer()
    reference = LogisticRegression(C=2.0, max_iter=1000, solver="liblinear", random_state=0).fit(
        vectorizer.fit_transform(data.texts), data.labels
    )
    probe = [*data.texts, "great but awful", "unknown words only"]
    np.testing.assert_allclose(
        model.predict_proba(probe), reference.predict_proba(vectorizer.transform(probe)), atol=1e-6
    )


def test_logreg_with_three_classes_is_the_multinomial_fit() -> None:
    texts = ["great fun", "great film", "awful mess", "awful plot", "a film", "the plot"] * 3
    labels = ["pos", "pos", "neg", "neg", "neutral", "neutral"] * 3
    model = TfidfLogisticRegression(min_df=1).fit(texts, labels)
    vectorizer = reference_vectorizer()
    reference = LogisticRegression(C=4.0, max_iter=1000).fit(
        vectorizer.fit_transform(texts), labels
    )
    probe = ["great", "awful", "film", "unseen"]
    np.testing.assert_allclose(
        model.predict_proba(probe), reference.predict_proba(vectorizer.transform(probe)), atol=1e-5
    )


def test_svm_matches_linear_svc_decisions(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = TfidfLinearSVM(min_df=1).fit(data.texts, data.labels)
    vectorizer = reference_vectorizer()
    reference = LinearSVC(C=0.5).fit(vectorizer.fit_transform(data.texts), data.labels)
    probe = ["wonderful brilliant", "boring awful", "a film"]
    assert model.predict(probe).tolist() == reference.predict(vectorizer.transform(probe)).tolist()


def test_nbsvm_scale_is_the_absolute_log_count_ratio() -> None:
    # Binary features; class 0 rows use feature 0, class 1 rows feature 1; feature 2 in both.
    matrix = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1]], dtype=float))
    targets = np.array([0, 0, 1])
    scale = NBSVM()._nb_scale(matrix, targets)
    p = np.array([2, 0, 2]) + 1.0  # class 0 counts, add-one smoothed
    q = np.array([0, 1, 1]) + 1.0
    expected = np.abs(np.log((p / p.sum()) / (q / q.sum())))
    np.testing.assert_allclose(scale, expected)


def test_multiclass_uses_softmax_and_reloads(tmp_path: Path) -> None:
    texts = ["red apple", "green pear", "yellow banana"] * 4
    labels = ["a", "p", "b"] * 4
    for family in ("logreg", "svm", "nb"):
        model = make_model(family, {"min_df": 1}).fit(texts, labels)
        assert model.coef_.shape[0] == 3
        assert model.predict(["red", "banana", "green"]).tolist() == ["a", "b", "p"]
        save_model(model, tmp_path / family)
        np.testing.assert_array_equal(
            load_model(tmp_path / family).predict_proba(texts), model.predict_proba(texts)
        )


def test_linear_proba_binary_and_softmax() -> None:
    matrix = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    binary = linear_proba(matrix, np.array([[1.0, -1.0]]), np.array([0.0]))
    np.testing.assert_allclose(binary[:, 1], 1 / (1 + np.exp(-np.array([1.0, -2.0]))))
    multi = linear_proba(matrix, np.eye(2), np.zeros(2))
    np.testing.assert_allclose(multi[0], np.exp([1, 0]) / np.exp([1, 0]).sum())


def test_family_default_regularisation() -> None:
    assert TfidfLogisticRegression()._C() == 4.0
    assert TfidfLinearSVM()._C() == 0.5
    assert NBSVM(C=3.0)._C() == 3.0


@pytest.mark.parametrize("family", ["logreg", "svm", "nb"])
def test_gradient_variant_learns_the_same_kind_of_model(family: str, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    params = {"min_df": 1, "optimizer": "adam", "epochs": 30, "batch_size": 8, "patience": None}
    model = make_model(family, params, seed=0).fit(data.texts, data.labels)
    assert (model.predict(data.texts) == data.labels).mean() == 1.0
    assert model.coef_.shape[1] == model.featurizer_.n_features
    assert len(model.history_) == 30


def test_gradient_variant_takes_its_own_sgd_rate(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    params = {"min_df": 1, "optimizer": "sgd", "epochs": 1}
    model = make_model("logreg", params, seed=0).fit(data.texts, data.labels)
    assert (
        model.history_[0]["base_lr"] == DEFAULT_LR["linear"]["sgd"] != DEFAULT_LR["neural"]["sgd"]
    )
    assert model.get_params()["lr"] is None  # the parameter stays as given
    given = make_model("logreg", {**params, "lr": 0.3}, seed=0).fit(data.texts, data.labels)
    assert given.history_[0]["base_lr"] == 0.3


@pytest.mark.parametrize(("flag", "value"), [("lr", 0.1), ("momentum", 0.9), ("epochs", 3)])
def test_closed_form_refuses_gradient_training_flags(flag: str, value: float) -> None:
    model = make_model("svm", {"min_df": 1, flag: value})
    with pytest.raises(
        ConfigError,
        match=rf"^{flag} applies to gradient training, but svm without an optimizer is fitted "
        rf"by its closed-form solver; set optimizer \(e.g. --optimizer sgd\) or drop {flag}$",
    ):
        model.fit(["good film", "bad film", "great plot", "awful plot"], ["p", "n", "p", "n"])
    with pytest.raises(ConfigError, match=rf"^{flag} applies to gradient training"):
        model.check_params()  # a pipeline's check before it runs
