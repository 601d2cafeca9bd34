"""``compare``: two models on the same labeled rows. Is the difference real, and where is it?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._html import HtmlReport
from modelcycle.config import EvalConfig
from modelcycle.data import Dataset
from modelcycle.evaluation._labels import LabelCheck, check_labels
from modelcycle.evaluation._metrics import evaluation_metrics, mcnemar, paired_bootstrap_ci
from modelcycle.evaluation._render import comparison_html
from modelcycle.exceptions import SchemaError
from modelcycle.models import TextClassifier

__all__ = ["CompareReport", "compare"]

_SUMMARY_KEYS = (
    "accuracy",
    "accuracy_ci95",
    "macro_f1",
    "weighted_f1",
    "roc_auc",
    "log_loss",
    "ece",
)
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class CompareReport(HtmlReport):
    """Two models on the same data: ``comparison.json`` and ``comparison.html``."""

    json_file = "comparison.json"
    html_file = "comparison.html"

    result: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """``comparison.json``'s content."""
        return self.result

    def to_html(self) -> str:
        """A self-contained page: both models side by side, the test, where they disagree."""
        return comparison_html(self.result)

    def summary(self, out: str | Path) -> str:
        """Accuracies, their difference with its interval, McNemar's p, the verdict; the files."""
        r, out = self.result, Path(out)
        a, b = r["models"]["a"], r["models"]["b"]
        low, high = r["difference"]["ci95"] or (float("nan"), float("nan"))
        verdict = {"a": f"{a['name']} is better", "b": f"{b['name']} is better"}.get(
            r["better"], "no significant difference"
        )
        return (
            f"accuracy {a['accuracy']:.4f} vs {b['accuracy']:.4f}: difference "
            f"{r['difference']['accuracy']:+.4f} (95% interval {low:+.4f} to {high:+.4f}), "
            f"McNemar p = {r['mcnemar']['p_value']:.4g}: {verdict}\n"
            f"wrote {out / self.json_file} and {out / self.html_file}"
        )


def compare(
    model_a: TextClassifier,
    model_b: TextClassifier,
    dataset: Dataset,
    config: EvalConfig | None = None,
    *,
    names: tuple[str, str] = ("A", "B"),
    data_name: str | None = None,
    seed: int = 0,
) -> CompareReport:
    """Both models on ``dataset`` (each with its stored post-processing, as it would answer):
    the accuracy difference A − B with a paired bootstrap 95% interval, McNemar's test on the
    rows where exactly one is right, and examples of those rows.

    Rows whose label a model does not know count as its errors (``unknown_labels`` of each
    model, and ``warnings``); data without a single label that a model knows is refused with a
    :class:`~modelcycle.exceptions.DataError` naming both label sets.

    Example::

        compare(load_model("a/"), load_model("b/"), load_dataset("test.csv")).write("cmp/")
    """
    config = config or EvalConfig()
    if dataset.label is None:
        raise SchemaError("comparing needs labels; choose the label column", path=dataset.source)
    truth = dataset.labels
    checks = [
        check_labels(dataset, truth, model.classes_.astype(str).tolist(), model=f"model {name}")
        for model, name in zip((model_a, model_b), names, strict=True)
    ]
    texts = dataset.texts
    answers = [_answers(model, texts) for model in (model_a, model_b)]
    summaries = [
        _summary(model, answer, truth, check, config, seed)
        for model, answer, check in zip((model_a, model_b), answers, checks, strict=True)
    ]
    correct_a, correct_b = (answer[0] == truth for answer in answers)
    only_a, only_b = int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b))
    test = mcnemar(only_a, only_b)
    difference = float(np.mean(correct_a) - np.mean(correct_b))
    interval = paired_bootstrap_ci(correct_a, correct_b, config.bootstrap, seed)
    significant = test["p_value"] < SIGNIFICANCE and (
        interval is None or interval[0] > 0 or interval[1] < 0
    )
    better = None
    if significant and difference != 0:
        better = "a" if difference > 0 else "b"
    result = {
        "n": len(truth),
        "data": data_name or dataset.source,
        "models": {
            key: {"name": name, **summary}
            for key, name, summary in zip(("a", "b"), names, summaries, strict=True)
        },
        "difference": {"accuracy": difference, "ci95": interval},
        "mcnemar": test,
        "counts": {
            "both_correct": int(np.sum(correct_a & correct_b)),
            "only_a": only_a,
            "only_b": only_b,
            "both_wrong": int(np.sum(~correct_a & ~correct_b)),
        },
        "agreement": float(np.mean(answers[0][0] == answers[1][0])),
        "significance_level": SIGNIFICANCE,
        "better": better,
        "warnings": [warning for check in checks for warning in check.warnings],
        "disagreements": {
            "only_a_correct": _examples(
                texts, truth, answers, correct_a & ~correct_b, loser=1, k=config.examples
            ),
            "only_b_correct": _examples(
                texts, truth, answers, ~correct_a & correct_b, loser=0, k=config.examples
            ),
        },
    }
    return CompareReport(result)


def _summary(
    model: TextClassifier,
    answer: tuple[np.ndarray, np.ndarray, list[str]],
    truth: np.ndarray,
    check: LabelCheck,
    config: EvalConfig,
    seed: int,
) -> dict[str, Any]:
    """One model's figures in ``comparison.json``: its metrics, post-processing, unknown labels."""
    predicted, proba, classes = answer
    metrics = evaluation_metrics(truth, proba, classes, predicted, config, seed)
    summary = {key: metrics[key] for key in _SUMMARY_KEYS}
    post = model.postprocess_
    summary["postprocess"] = None if post is None or post.is_identity else post.to_json()
    summary["unknown_labels"] = check.unknown
    return summary


def _answers(model: TextClassifier, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(labels, probabilities, classes)`` as the model answers, post-processing included."""
    classes = model.classes_.astype(str).tolist()
    proba = model.predict_proba(texts)
    if model.postprocess_ is not None:
        labels, proba = model.postprocess_.apply(proba, classes)
        return labels, proba, classes
    return np.asarray(classes)[np.argmax(proba, axis=1)], proba, classes


def _examples(
    texts: list[str],
    truth: np.ndarray,
    answers: list[tuple[np.ndarray, np.ndarray, list[str]]],
    rows: np.ndarray,
    *,
    loser: int,
    k: int,
) -> list[dict[str, Any]]:
    """Up to ``k`` of ``rows``, those where the wrong model was most confident first."""
    confidence = [_confidence(predicted, proba, classes) for predicted, proba, classes in answers]
    chosen = np.flatnonzero(rows)
    chosen = chosen[np.argsort(-confidence[loser][chosen], kind="stable")[:k]]
    return [
        {
            "row": int(i) + 1,
            "text": texts[i],
            "label": str(truth[i]),
            "a": {"predicted": str(answers[0][0][i]), "confidence": float(confidence[0][i])},
            "b": {"predicted": str(answers[1][0][i]), "confidence": float(confidence[1][i])},
        }
        for i in chosen.tolist()
    ]


def _confidence(predicted: np.ndarray, proba: np.ndarray, classes: list[str]) -> np.ndarray:
    index = {label: j for j, label in enumerate(classes)}
    columns = np.array([index[label] for label in predicted.tolist()], dtype=np.int64)
    result: np.ndarray = proba[np.arange(len(columns)), columns]
    return result
