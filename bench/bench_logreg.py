"""logreg baseline: load, train and evaluate on SST-2 and MR against scikit-learn anchors."""

from __future__ import annotations

from typing import Any

from bench._harness import Context, measure

MODELCYCLE = """
from modelcycle.data import load_dataset
from modelcycle.evaluation import evaluate
from modelcycle.training import train
tick()
model = train(load_dataset({train!r})).model
report = evaluate(model, load_dataset({test!r}))
tock()
result["accuracy"] = report.metrics["accuracy"]
"""

SKLEARN = """
import pandas as pd
from sklearn.feature_extraction.text import {vectorizer}
from sklearn.linear_model import LogisticRegression
tick()
train, test = pd.read_csv({train!r}), pd.read_csv({test!r})
vectorizer = {vectorizer}(ngram_range={ngrams})
features = vectorizer.fit_transform(train["text"])
model = LogisticRegression(max_iter=1000).fit(features, train["label"])
accuracy = (model.predict(vectorizer.transform(test["text"])) == test["label"]).mean()
tock()
result["accuracy"] = float(accuracy)
"""

APPROACHES = {
    "modelcycle logreg": lambda train, test: MODELCYCLE.format(train=train, test=test),
    "TF-IDF(1,2) + LogisticRegression": lambda train, test: SKLEARN.format(
        train=train, test=test, vectorizer="TfidfVectorizer", ngrams=(1, 2)
    ),
    "blog: CountVectorizer + LogisticRegression": lambda train, test: SKLEARN.format(
        train=train, test=test, vectorizer="CountVectorizer", ngrams=(1, 1)
    ),
}


def run(ctx: Context) -> dict[str, Any]:
    datasets = {
        "sst2": (ctx.dataset("sst2/train.csv"), ctx.dataset("sst2/dev.csv")),
        "mr": (ctx.dataset("mr/train.csv"), ctx.dataset("mr/test.csv")),
    }
    figures: dict[str, dict[str, Any]] = {}
    for data, (train, test) in datasets.items():
        for approach, code in APPROACHES.items():
            m = measure(code(str(train), str(test)), threads=ctx.threads, repeat=3)
            figures.setdefault(data, {})[approach] = {
                "accuracy": round(m["accuracy"], 4),
                "seconds": round(m["seconds"], 2),
                "peak_rss_mb": round(m["peak_rss_mb"]),
            }
            print(f"   {data:5} {approach:45} acc {m['accuracy']:.4f}  {m['seconds']:6.2f} s")
    sst2 = figures["sst2"]["modelcycle logreg"]
    return {
        "what": "load + train + evaluate, end to end, median of 3 fresh processes",
        "figures": figures,
        "summary": {
            data: {a: f["accuracy"] for a, f in rows.items()} for data, rows in figures.items()
        },
        "targets": {
            "SST-2 dev accuracy of the logreg baseline at least 0.80": sst2["accuracy"] >= 0.80
        },
    }
