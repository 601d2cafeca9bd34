"""How a candidate is scored: the validation scheme, and the figures measured on each model.

The scheme follows the data's size: given validation data is used as it is; otherwise k-fold
cross-validation (every row scored once) below ``CV_BELOW`` rows, a stratified held-out share
above. Each candidate gets accuracy with a Wilson 95% interval, macro-F1, which validation rows
it got right (for the paired test), fit time, single-text latency (p50/p95), batch throughput and
size on disk.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from modelcycle.config import QuantizeConfig, SelectConfig, SplitConfig, TrainConfig
from modelcycle.data import Dataset
from modelcycle.models import TextClassifier, load_model, save_model
from modelcycle.split import split_dataset
from modelcycle.training import train

__all__ = ["CV_BELOW", "CV_FOLDS", "Scheme", "measure", "measure_variants", "scheme_for"]

CV_BELOW = 2000
CV_FOLDS = 5
LATENCY_TEXTS = 200
LATENCY_MIN_TEXTS = 20
LATENCY_SECONDS = 2.0


@dataclass(frozen=True)
class Scheme:
    """The (train, validation) pairs every candidate is scored on, and what they are."""

    folds: list[tuple[Dataset, Dataset]]
    description: str
    rows: int  # validation rows scored (each once)
    fingerprint: str  # of the validation rows and labels: a resumed study must score the same

    @property
    def refit_factor(self) -> float:
        """Rows of the whole data over the rows of one fold's training part."""
        trained = len(self.folds[0][0])
        return (trained + len(self.folds[0][1])) / trained


def scheme_for(dataset: Dataset, config: SelectConfig, val: Dataset | None) -> Scheme:
    """The validation scheme for ``dataset`` (see the module's docstring)."""
    if val is not None:
        folds = [(dataset, val)]
        text = f"the given validation data ({len(val):,} rows)"
    else:
        k = config.cv if config.cv is not None else (CV_FOLDS if len(dataset) < CV_BELOW else 0)
        if k >= 2:
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=config.seed)
            folds = [
                (dataset.take(train_rows), dataset.take(test_rows))
                for train_rows, test_rows in splitter.split(np.zeros(len(dataset)), dataset.labels)
            ]
            why = "" if config.cv is not None else f", as the data has under {CV_BELOW:,} rows"
            text = f"{k}-fold cross-validation ({len(dataset):,} rows, each scored once{why})"
        else:
            parts = split_dataset(dataset, SplitConfig(test=config.val, val=0.0, seed=config.seed))
            folds = [(parts.train, parts.test)]
            why = "" if config.cv is not None else f", as the data has {CV_BELOW:,} rows or more"
            text = f"a held-out {config.val:.0%} of the data ({len(parts.test):,} rows{why})"
    digest = hashlib.sha256()
    for _, part in folds:
        digest.update("\n".join(part.texts).encode())
        digest.update("\n".join(part.labels.tolist()).encode())
    rows = sum(len(part) for _, part in folds)
    return Scheme(folds, text, rows, digest.hexdigest()[:16])


def measure(
    family: str,
    params: dict[str, Any],
    scheme: Scheme,
    *,
    seed: int,
    gradient: bool,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``family`` on each fold and score it; ``on_epoch_end(fold, record)`` sees every
    epoch (``gradient`` families get the fold's validation part for per-epoch accuracy)."""
    config = TrainConfig(model=family, params=params, seed=seed)
    predicted, seconds, scoring = [], 0.0, 0.0
    model: TextClassifier | None = None
    for index, (train_part, val_part) in enumerate(scheme.folds):
        result = train(
            train_part,
            config,
            val=val_part if gradient else None,
            progress=False,
            on_epoch_end=None if on_epoch_end is None else partial(on_epoch_end, index),
        )
        model, seconds = result.model, seconds + result.seconds
        start = time.perf_counter()
        predicted.append(model.predict(val_part.texts))
        scoring += time.perf_counter() - start
    assert model is not None
    row = _scores(scheme, predicted, scoring, model)
    return {**row, "fit_seconds": round(seconds / len(scheme.folds), 3)}


def measure_variants(
    family: str,
    params: dict[str, Any],
    precisions: Sequence[str],
    scheme: Scheme,
    *,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """The quantized ``precisions`` of ``family`` with ``params``, scored like the models: each
    fold's model is trained and quantized (``modelcycle.quantization.quantize``)."""
    from modelcycle.quantization import quantize  # deferred: ONNX Runtime, for --quantize only

    config = QuantizeConfig(
        precisions=tuple(precisions), latency_texts=20, throughput_texts=64, seed=seed
    )
    predicted: dict[str, list[np.ndarray]] = {p: [] for p in precisions}
    scoring = dict.fromkeys(precisions, 0.0)
    models: dict[str, TextClassifier] = {}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        for index, (train_part, val_part) in enumerate(scheme.folds):
            fitted = train(
                train_part, TrainConfig(model=family, params=params, seed=seed), progress=False
            )
            out = Path(scratch) / f"fold{index}"
            quantize(fitted.model, val_part, out, config)
            for precision in precisions:
                models[precision] = load_model(out / precision)
                start = time.perf_counter()
                predicted[precision].append(models[precision].predict(val_part.texts))
                scoring[precision] += time.perf_counter() - start
        return {
            p: _scores(scheme, predicted[p], scoring[p], models[p], out / p) for p in precisions
        }


def _scores(
    scheme: Scheme,
    predicted: list[np.ndarray],
    scoring_seconds: float,
    model: TextClassifier,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    truth = np.concatenate([part.labels for _, part in scheme.folds])
    labels = np.concatenate(predicted)
    correct = labels == truth
    hits = int(correct.sum())
    interval = binomtest(hits, len(truth)).proportion_ci(0.95, method="wilson")
    texts = scheme.folds[-1][1].texts[:LATENCY_TEXTS]
    p50, p95 = latency_ms(model, texts)
    return {
        "accuracy": hits / len(truth),
        "accuracy_ci95": [round(float(interval.low), 4), round(float(interval.high), 4)],
        "macro_f1": float(f1_score(truth, labels, average="macro")),
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "throughput_per_s": round(len(truth) / max(scoring_seconds, 1e-9), 1),
        "size_mb": round(size_bytes(model, model_dir) / 2**20, 4),
        "correct": correct,
    }


def latency_ms(model: TextClassifier, texts: list[str]) -> tuple[float, float]:
    """p50 and p95 of predicting one text at a time, after one warm-up call; on up to all of
    ``texts``, stopping after ``LATENCY_SECONDS`` once ``LATENCY_MIN_TEXTS`` are timed (a slow
    model's latency is clear from fewer texts, and the budget counts this time too)."""
    model.predict_proba(texts[:1])
    timings: list[float] = []
    began = time.perf_counter()
    for text in texts:
        start = time.perf_counter()
        model.predict_proba([text])
        timings.append((time.perf_counter() - start) * 1000)
        if len(timings) >= LATENCY_MIN_TEXTS and start - began > LATENCY_SECONDS:
            break
    p50, p95 = np.percentile(timings, [50, 95])
    return round(float(p50), 4), round(float(p95), 4)


def size_bytes(model: TextClassifier, model_dir: Path | None = None) -> int:
    """Bytes of the model directory (``model_dir``, or ``model`` saved into a scratch one)."""
    if model_dir is not None:
        return sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file())
    with tempfile.TemporaryDirectory() as scratch:
        path = save_model(model, Path(scratch) / "model")
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
