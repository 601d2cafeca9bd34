from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from modelcycle.data import load_dataset
from modelcycle.exceptions import ArtifactError, ConfigError, DataError, NotFittedError
from modelcycle.models import TfidfLogisticRegression, load_model, make_model, save_model
from modelcycle.models.linear import linear_proba


def fitted(
    reviews_csv: Path, **params: object
) -> tuple[TfidfLogisticRegression, list[str], np.ndarray]:
    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1, **params).fit(data.texts, data.labels)  # type: ignore[arg-type]
    return model, data.texts, data.labels


def test_learns_the_tiny_corpus(reviews_csv: Path) -> None:
    model, texts, labels = fitted(reviews_csv)
    assert (model.predict(texts) == labels).all()
    assert model.predict(["a wonderful, brilliant film", "an awful, boring film"]).tolist() == [
        "positive",
        "negative",
    ]
    proba = model.predict_proba(texts)
    assert proba.shape == (24, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_matches_scikit_learn_pipeline(reviews_csv: Path) -> None:
    model, texts, labels = fitted(reviews_csv, C=2.0)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    reference = LogisticRegression(C=2.0, max_iter=1000).fit(
        vectorizer.fit_transform(texts), labels
    )
    np.testing.assert_allclose(
        model.predict_proba(texts), reference.predict_proba(vectorizer.transform(texts)), atol=1e-6
    )


def test_save_load_predicts_identically(tmp_path: Path, reviews_csv: Path) -> None:
    model, texts, _ = fitted(reviews_csv)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, TfidfLogisticRegression)
    unseen = ["never seen words here", "great and awful", ""]
    np.testing.assert_array_equal(
        loaded.predict_proba(texts + unseen), model.predict_proba(texts + unseen)
    )
    assert loaded.get_params() == model.get_params()


def test_multiclass_uses_softmax(tmp_path: Path) -> None:
    texts = ["red apple", "green pear", "yellow banana"] * 4
    labels = ["a", "p", "b"] * 4
    model = TfidfLogisticRegression(min_df=1).fit(texts, labels)
    assert model.coef_.shape[0] == 3
    assert model.predict(["red", "banana"]).tolist() == ["a", "b"]
    save_model(model, tmp_path / "m")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m").predict_proba(texts), model.predict_proba(texts)
    )


def test_linear_proba_binary_and_softmax() -> None:
    import scipy.sparse as sp

    matrix = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    binary = linear_proba(matrix, np.array([[1.0, -1.0]]), np.array([0.0]))
    np.testing.assert_allclose(binary[:, 1], 1 / (1 + np.exp(-np.array([1.0, -2.0]))))
    multi = linear_proba(matrix, np.eye(2), np.zeros(2))
    np.testing.assert_allclose(multi[0], np.exp([1, 0]) / np.exp([1, 0]).sum())


def test_scikit_learn_contract(reviews_csv: Path) -> None:
    model = TfidfLogisticRegression(C=3.0)
    assert clone(model).get_params() == model.get_params()
    assert model.set_params(C=5.0) is model
    assert model.C == 5.0
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(["x"])
    fitted_model, texts, labels = fitted(reviews_csv)
    assert fitted_model.fit(texts, labels) is fitted_model
    assert not hasattr(clone(fitted_model), "coef_")


def test_bad_parameters_and_inputs(reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    with pytest.raises(
        ConfigError, match="'C' parameter of TfidfLogisticRegression must be a float in the range"
    ):
        TfidfLogisticRegression(C=-1.0).fit(data.texts, data.labels)
    with pytest.raises(DataError, match="at least 2 classes, found 1"):
        TfidfLogisticRegression().fit(["a", "b"], ["x", "x"])
    with pytest.raises(DataError, match="got 2 texts but 1 labels"):
        TfidfLogisticRegression().fit(["a", "b"], ["x"])
    with pytest.raises(DataError, match="single string"):
        TfidfLogisticRegression().fit("abc", ["x"])  # type: ignore[arg-type]


def test_make_model_validates_names_and_params() -> None:
    assert make_model("logreg", {"C": 2.0}, seed=3).get_params()["random_state"] == 3
    with pytest.raises(ConfigError, match="unknown model 'forest'; valid models are: logreg"):
        make_model("forest")
    with pytest.raises(
        ConfigError,
        match="unknown parameter 'c' for model 'logreg'; valid parameters are: C, class_weight",
    ):
        make_model("logreg", {"c": 1})


def test_tampered_family_is_refused(tmp_path: Path, reviews_csv: Path) -> None:
    import json

    from modelcycle.artifacts import write_manifest

    model, _, _ = fitted(reviews_csv)
    save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["family"] = "gpt"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    write_manifest(tmp_path / "m")
    with pytest.raises(ArtifactError, match="unknown model family 'gpt'"):
        load_model(tmp_path / "m")
