"""Every family through the same contract: fit, predict, save, load, predict identically."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from modelcycle.data import load_dataset
from modelcycle.exceptions import ArtifactError, ConfigError, DataError, NotFittedError
from modelcycle.models import MODELS, load_model, make_model, save_model
from tests.models import TINY

OPTIMIZERS = ["sgd", "adam", "rmsprop", "adagrad"]
GRADIENT_CASES = [(family, opt) for family in ("fasttext", "mlp", "logreg") for opt in OPTIMIZERS]


def test_every_family_is_covered() -> None:
    # the transformer needs a backbone: tests/models/test_transformer.py builds a tiny one
    assert set(TINY) == set(MODELS) - {"transformer"}


@pytest.mark.parametrize("family", list(TINY))
def test_fit_save_load_predict(family: str, tmp_path: Path, reviews_csv: Path) -> None:
    data = load_dataset(reviews_csv)
    model = make_model(family, TINY[family], seed=0).fit(data.texts, data.labels)
    assert (model.predict(data.texts) == data.labels).mean() >= 0.9
    assert model.predict(["wonderful brilliant great", "awful terrible boring"]).tolist() == [
        "positive",
        "negative",
    ]
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    probe = [*data.texts, "never seen before", ""]
    np.testing.assert_array_equal(loaded.predict_proba(probe), model.predict_proba(probe))
    assert loaded.get_params() == model.get_params()


@pytest.mark.parametrize(("family", "optimizer"), GRADIENT_CASES)
def test_each_optimizer_trains_each_gradient_family(
    family: str, optimizer: str, tmp_path: Path, reviews_csv: Path
) -> None:
    data = load_dataset(reviews_csv)
    params = {**TINY[family], "optimizer": optimizer}
    if family == "logreg":
        params.update(epochs=30, batch_size=4, patience=None)
    model = make_model(family, params, seed=0).fit(data.texts, data.labels)
    losses = [h["loss"] for h in model.history_]
    assert losses[-1] < losses[0]
    assert (model.predict(data.texts) == data.labels).mean() >= 0.9
    save_model(model, tmp_path / "m")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m").predict_proba(data.texts), model.predict_proba(data.texts)
    )


@pytest.mark.parametrize("family", list(TINY))
def test_scikit_learn_contract(family: str, reviews_csv: Path) -> None:
    model = make_model(family, TINY[family])
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(["x"])
    data = load_dataset(reviews_csv)
    assert model.fit(data.texts, data.labels) is model
    assert not hasattr(clone(model), "classes_")


def test_bad_parameters_and_inputs() -> None:
    with pytest.raises(ConfigError, match="'C' parameter of TfidfLogisticRegression must be"):
        make_model("logreg", {"C": -1.0}).fit(["a", "b"], ["x", "y"])
    with pytest.raises(ConfigError, match=r"^unknown optimizer 'lbfgs'; valid optimizers are: sgd"):
        make_model("fasttext", {"optimizer": "lbfgs"}).fit(["a", "b"], ["x", "y"])
    with pytest.raises(DataError, match="at least 2 classes, found 1"):
        make_model("nb").fit(["a", "b"], ["x", "x"])
    with pytest.raises(DataError, match="got 2 texts but 1 labels"):
        make_model("mlp").fit(["a", "b"], ["x"])
    with pytest.raises(DataError, match="single string"):
        make_model("svm").fit("abc", ["x"])  # type: ignore[arg-type]


def test_make_model_validates_names_and_params() -> None:
    assert make_model("logreg", {"C": 2.0}, seed=3).get_params()["random_state"] == 3
    with pytest.raises(ConfigError, match="unknown model 'forest'; valid models are: logreg, svm"):
        make_model("forest")
    with pytest.raises(
        ConfigError,
        match="unknown parameter 'c' for model 'logreg'; valid parameters are: C, batch_size",
    ):
        make_model("logreg", {"c": 1})


def test_tampered_family_is_refused(tmp_path: Path, reviews_csv: Path) -> None:
    import json

    from modelcycle.artifacts import write_manifest

    data = load_dataset(reviews_csv)
    save_model(make_model("logreg").fit(data.texts, data.labels), tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["family"] = "gpt"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    write_manifest(tmp_path / "m")
    with pytest.raises(ArtifactError, match="unknown model family 'gpt'"):
        load_model(tmp_path / "m")


def test_missing_weights_are_listed(tmp_path: Path, reviews_csv: Path) -> None:
    from modelcycle.artifacts import read_model_dir, write_model_dir

    data = load_dataset(reviews_csv)
    save_model(make_model("logreg").fit(data.texts, data.labels), tmp_path / "m")
    files = read_model_dir(tmp_path / "m")
    tensors = {k: v for k, v in files.tensors.items() if k != "coef"}
    meta = {
        k: v
        for k, v in files.meta.items()
        if k not in ("format", "format_version", "modelcycle_version", "created")
    }
    write_model_dir(tmp_path / "m2", meta=meta, tensors=tensors, documents=files.documents)
    with pytest.raises(ArtifactError, match=r"missing \['coef'\], unexpected none"):
        load_model(tmp_path / "m2")


def keyword_texts(seed: int, n: int) -> tuple[list[str], list[str]]:
    """Six noise words and one of 30 keywords of the label: each keyword is in few texts."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["neg", "pos"], size=n).tolist()
    texts = []
    for label in labels:
        words = [f"w{i}" for i in rng.choice(200, size=6, replace=False)]
        words.insert(int(rng.integers(7)), f"{label}{rng.integers(30)}")
        texts.append(" ".join(words))
    return texts, labels


def test_mlp_with_sgd_learns_rare_features_with_its_defaults() -> None:
    """SGD steps the TF-IDF layer by its texts' summed gradient: with the batch mean, 5 epochs
    of 10 batches leave a keyword seen in 10 texts near where it started (about 0.5)."""
    texts, labels = keyword_texts(0, 600)
    test_texts, test_labels = keyword_texts(1, 300)
    model = make_model("mlp", {"optimizer": "sgd"}, seed=0).fit(texts, labels)
    assert (model.predict(test_texts) == np.array(test_labels)).mean() >= 0.9
