"""Temperature scaling and threshold tuning: known cases, brute force, and storage with a model."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.metrics import f1_score, log_loss, precision_score, recall_score

from modelcycle.artifacts import update_model_meta
from modelcycle.data import Dataset, load_dataset
from modelcycle.evaluation import calibrate, calibrate_model, fit_temperature, tune_threshold
from modelcycle.exceptions import ArtifactError, ConfigError, DataError
from modelcycle.models import load_model, save_model
from modelcycle.models.linear import TfidfLogisticRegression
from modelcycle.postprocess import scale_temperature
from modelcycle.prediction import predict


def overconfident(n: int, factor: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities, reported with logits multiplied by factor."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, 3))
    truth = np.array([rng.choice(3, p=p) for p in softmax(logits, axis=1)])
    return softmax(logits * factor, axis=1), truth


def test_temperature_undoes_overconfidence() -> None:
    proba, truth = overconfident(6000, 2.0)
    t = fit_temperature(proba, truth)
    assert t == pytest.approx(2.0, rel=0.08)
    grid = np.linspace(0.5, 4, 351)
    losses = [log_loss(truth, scale_temperature(proba, g), labels=[0, 1, 2]) for g in grid]
    assert t == pytest.approx(grid[int(np.argmin(losses))], abs=0.011)
    assert fit_temperature(*overconfident(6000, 1.0, seed=1)) == pytest.approx(1.0, rel=0.08)


def noisy_binary(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.4
    scores = expit(rng.normal(np.where(positive, 0.8, -0.8), 1.2))
    return scores, positive


def test_f1_threshold_is_the_best_of_all_thresholds() -> None:
    scores, positive = noisy_binary()
    value, achieved = tune_threshold(scores, positive, "f1")
    assert achieved == pytest.approx(f1_score(positive, scores >= value))
    best = max(f1_score(positive, scores >= t) for t in np.unique(scores))
    assert achieved == pytest.approx(best)
    value, achieved = tune_threshold(scores, positive, "accuracy")
    assert achieved == pytest.approx(max(np.mean((scores >= t) == positive) for t in scores))


def test_precision_at_recall_and_recall_at_precision() -> None:
    scores, positive = noisy_binary()
    value, precision = tune_threshold(scores, positive, "precision@recall=0.9")
    assert recall_score(positive, scores >= value) >= 0.9
    assert precision == pytest.approx(precision_score(positive, scores >= value))
    feasible = [
        precision_score(positive, scores >= t)
        for t in np.unique(scores)
        if recall_score(positive, scores >= t) >= 0.9
    ]
    assert precision == pytest.approx(max(feasible))
    value, recall = tune_threshold(scores, positive, "recall@precision=0.8")
    assert precision_score(positive, scores >= value) >= 0.8
    assert recall == pytest.approx(recall_score(positive, scores >= value))


@pytest.mark.parametrize(
    ("metric", "error", "message"),
    [
        ("auc", ConfigError, "unknown threshold metric 'auc'; valid metrics are: f1, accuracy"),
        ("precision@precision=0.5", ConfigError, "unknown threshold metric"),
        ("precision@recall=1.5", ConfigError, "unknown threshold metric"),
    ],
)
def test_bad_threshold_requests(metric: str, error: type[Exception], message: str) -> None:
    scores, positive = noisy_binary()
    with pytest.raises(error, match=message):
        tune_threshold(scores, positive, metric)


def test_an_unreachable_constraint_says_how_close_it_came() -> None:
    scores = np.array([0.9, 0.8, 0.3, 0.2])  # the top score is a negative: precision <= 1/2
    positive = np.array([False, True, False, True])
    with pytest.raises(
        DataError, match=r"no threshold reaches precision >= 0.9 .*\(the highest is 0.5000\)"
    ):
        tune_threshold(scores, positive, "recall@precision=0.9")


def test_threshold_needs_both_labels() -> None:
    with pytest.raises(DataError, match="rows of both labels"):
        tune_threshold(np.array([0.2, 0.7]), np.array([True, True]), "f1")


@pytest.fixture
def model_dir(tmp_path: Path, reviews_csv: Path) -> Path:
    data = load_dataset(reviews_csv)
    model = TfidfLogisticRegression(min_df=1, C=0.5).fit(data.texts, data.labels)
    return save_model(model, tmp_path / "model")


def test_calibrate_model_stores_postprocess_used_by_predict(
    model_dir: Path, reviews_csv: Path
) -> None:
    val = load_dataset(reviews_csv)
    fitted = calibrate_model(model_dir, val, threshold="f1", positive="negative")
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["postprocess"] == fitted.to_json()
    assert meta["postprocess"]["threshold"]["label"] == "negative"
    assert meta["postprocess"]["fitted_on"]["rows"] == 24
    ll_before, ll_after = meta["postprocess"]["fitted_on"]["log_loss"]
    assert ll_after <= ll_before
    model = load_model(model_dir)  # the rewritten manifest verifies
    assert model.postprocess_ == fitted
    texts = ["a wonderful film", "an awful film", "a film"]
    raw = predict(model, texts, raw=True)
    calibrated = predict(model, texts)
    labels, scores = fitted.apply(model.predict_proba(texts), ["negative", "positive"])
    assert calibrated.labels.tolist() == labels.tolist()
    np.testing.assert_allclose(calibrated.scores, scores)
    np.testing.assert_allclose(raw.scores, model.predict_proba(texts))
    # Saving a loaded model keeps its post-processing; fitting again drops it.
    save_model(model, model_dir.parent / "copy")
    assert load_model(model_dir.parent / "copy").postprocess_ == fitted
    model.fit(texts[:2], ["positive", "negative"])
    assert model.postprocess_ is None


def test_no_temperature_and_no_threshold_removes_it(model_dir: Path, reviews_csv: Path) -> None:
    val = load_dataset(reviews_csv)
    calibrate_model(model_dir, val)
    assert "postprocess" in json.loads((model_dir / "model.json").read_text())
    calibrate_model(model_dir, val, temperature=False)
    assert "postprocess" not in json.loads((model_dir / "model.json").read_text())
    assert load_model(model_dir).postprocess_ is None


def test_calibrate_refuses_what_it_cannot_do(model_dir: Path) -> None:
    model = load_model(model_dir)
    val = Dataset.from_records(["great", "awful"], ["positive", "negative"])
    with pytest.raises(ConfigError, match="positive label 'good' is not one of"):
        calibrate(model, val, threshold="f1", positive="good")
    with pytest.raises(DataError, match="none of the validation labels"):
        calibrate(model, Dataset.from_records(["x"], ["other"]))
    three = TfidfLogisticRegression(min_df=1).fit(["a", "b", "c"], ["x", "y", "z"])
    with pytest.raises(
        ConfigError, match=r"needs a model with 2 labels; this one has 3 \(x, y, z\)"
    ):
        calibrate(three, Dataset.from_records(["a"], ["x"]), threshold="f1")


def test_an_invalid_stored_postprocess_is_refused(model_dir: Path) -> None:
    update_model_meta(model_dir, {"postprocess": {"temperature": -1}})
    with pytest.raises(
        ArtifactError, match=r"model.json: invalid postprocess \(temperature must be a positive"
    ):
        load_model(model_dir)
