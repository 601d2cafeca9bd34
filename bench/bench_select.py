"""select: the pick's test accuracy against defaults and RandomizedSearchCV, same budget."""

# MODELCYCLE_BENCH_SELECT_BUDGET sets the budget in seconds (default 600, the 10
# minutes); MODELCYCLE_BENCH_SELECT_DATA the data sets (default sst2,imdb,mr). Each approach runs
# in a fresh process, its time counted from before the data is loaded. The defaults anchor trains
# every family but the transformer (whose defaults fine-tune for hours on this machine's CPUs) on
# the whole training set and keeps the best *test* accuracy, which favours the anchor; beside it,
# the family whose defaults scored best on select's own validation rows (its starting trials), as
# a user without the test set would choose, with that family's test accuracy. The
# randomized search calls RandomizedSearchCV (3-fold CV, one candidate per call, a new random
# state each time) until the budget, less the refit of its best candidate, is spent, then refits
# that candidate. Last, `modelcycle select` with a 60 s budget on MR is timed end to end.

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from bench._harness import ROOT, Context, measure

DATASETS = {
    "sst2": ("sst2/train.csv", "sst2/dev.csv"),
    "imdb": ("imdb/train.csv.gz", "imdb/test.csv.gz"),
    "mr": ("mr/train.csv", "mr/test.csv"),
}
DEFAULT_FAMILIES = ("logreg", "svm", "nb", "fasttext", "mlp")
QUICK_BUDGET = 60.0
QUICK_LIMIT = 75.0

SELECT = """
from modelcycle.config import SelectConfig
from modelcycle.data import load_dataset
from modelcycle.evaluation import evaluate
from modelcycle.models import load_model
from modelcycle.selection import select
import time
tick()
started = time.monotonic()
board = select(load_dataset({train!r}), SelectConfig(budget={budget}, seed=0), out_dir={out!r},
               started=started)
tock()
report = evaluate(load_model({out!r} + "/model"), load_dataset({test!r}))
result["accuracy"] = report.metrics["accuracy"]
result["recommendation"] = board.recommendation
result["best_on_validation"] = board.best
result["scoring"] = board.scoring
result["trials"] = board.study["trials"]
result["skipped"] = board.skipped
result["elapsed_s"] = board.elapsed_s
import optuna
study = optuna.load_study(study_name=None, storage="sqlite:///" + {out!r} + "/study.db")
result["defaults_on_validation"] = {{
    t.params["family"]: t.value
    for t in study.trials
    if t.user_attrs.get("start") and t.value is not None
}}
"""

DEFAULTS = """
from modelcycle.config import TrainConfig
from modelcycle.data import load_dataset
from modelcycle.evaluation import evaluate
from modelcycle.training import train
tick()
model = train(load_dataset({train!r}), TrainConfig(model={family!r}, seed=0), progress=False).model
report = evaluate(model, load_dataset({test!r}))
tock()
result["accuracy"] = report.metrics["accuracy"]
"""

RANDOMIZED = """
import time
import pandas as pd
from scipy.stats import loguniform
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import make_pipeline
start = time.monotonic()
tick()
train, test = pd.read_csv({train!r}), pd.read_csv({test!r})
space = {{
    "tfidfvectorizer__ngram_range": [(1, 1), (1, 2), (1, 3)],
    "tfidfvectorizer__min_df": [1, 2, 3, 5],
    "tfidfvectorizer__sublinear_tf": [True, False],
    "logisticregression__C": loguniform(0.01, 100),
}}
pipe = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
best, best_score, tried, slowest = None, -1.0, 0, 0.0
# room for one more call as slow as the slowest so far, and a refit (about half a call)
while tried == 0 or time.monotonic() - start + 1.5 * slowest < {budget}:
    began = time.monotonic()
    search = RandomizedSearchCV(pipe, space, n_iter=1, cv=3, random_state=tried, refit=False)
    search.fit(train["text"], train["label"])
    slowest = max(slowest, time.monotonic() - began)
    tried += 1
    if search.best_score_ > best_score:
        best, best_score = search.best_params_, search.best_score_
model = pipe.set_params(**best).fit(train["text"], train["label"])
tock()
result["accuracy"] = float((model.predict(test["text"]) == test["label"]).mean())
result["candidates"] = tried
result["cv_accuracy"] = float(best_score)
result["params"] = {{k: str(v) for k, v in best.items()}}
"""


def _budget() -> float:
    return float(os.environ.get("MODELCYCLE_BENCH_SELECT_BUDGET", "600"))


def _compare(ctx: Context, name: str, budget: float) -> dict[str, Any]:
    """The three approaches on one data set."""
    train, test = (str(ctx.dataset(p)) for p in DATASETS[name])
    out = str(ctx.scratch / f"select-{name}")
    chosen = measure(
        SELECT.format(train=train, test=test, budget=budget, out=out), threads=ctx.threads
    )
    defaults = {
        family: measure(DEFAULTS.format(train=train, test=test, family=family), threads=ctx.threads)
        for family in DEFAULT_FAMILIES
    }
    best_family = max(defaults, key=lambda f: defaults[f]["accuracy"])
    on_validation = {f: a for f, a in chosen["defaults_on_validation"].items() if f in defaults}
    validated_family = max(on_validation, key=lambda f: on_validation[f])
    randomized = measure(
        RANDOMIZED.format(train=train, test=test, budget=budget), threads=ctx.threads
    )
    row = {
        "select": {
            k: chosen[k]
            for k in ("accuracy", "recommendation", "best_on_validation", "scoring", "trials")
        }
        | {"seconds": round(chosen["seconds"], 1), "skipped": chosen["skipped"]},
        "defaults": {f: round(m["accuracy"], 4) for f, m in defaults.items()},
        "best_defaults": {"family": best_family, "accuracy": defaults[best_family]["accuracy"]},
        "best_defaults_on_validation": {
            "family": validated_family,
            "accuracy": defaults[validated_family]["accuracy"],
            "validation_accuracy": {f: round(a, 4) for f, a in on_validation.items()},
        },
        "randomized_search": {
            k: randomized[k] for k in ("accuracy", "candidates", "cv_accuracy", "params")
        }
        | {"seconds": round(randomized["seconds"], 1)},
    }
    print(
        f"   {name:5} select {chosen['accuracy']:.4f} ({chosen['recommendation']}, "
        f"{chosen['seconds']:.0f} s)  defaults {defaults[best_family]['accuracy']:.4f} "
        f"({best_family}; chosen on validation: {validated_family} "
        f"{defaults[validated_family]['accuracy']:.4f})  "
        f"RandomizedSearchCV {randomized['accuracy']:.4f} "
        f"({randomized['candidates']} candidates, {randomized['seconds']:.0f} s)",
        flush=True,
    )
    return row


def _quick(ctx: Context) -> dict[str, Any]:
    """``modelcycle select`` with a 60 s budget on MR, as a user runs it: wall seconds from
    the process's start to its end."""
    train = str(ctx.dataset("mr/train.csv"))
    out = str(ctx.scratch / "quick")
    command = [sys.executable, "-m", "modelcycle", "select", train, "-o", out, "--budget", "60s"]
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"modelcycle select failed:\n{done.stderr[-3000:]}")
    last = [line for line in done.stdout.splitlines() if line.startswith("recommendation:")]
    print(f"   60 s budget on MR: {seconds:.1f} s end to end; {last[0][:100]}", flush=True)
    return {"seconds": round(seconds, 1), "recommendation": last[0]}


def run(ctx: Context) -> dict[str, Any]:
    budget = _budget()
    names = os.environ.get("MODELCYCLE_BENCH_SELECT_DATA", ",".join(DATASETS)).split(",")
    figures = {name: _compare(ctx, name, budget) for name in names}
    quick = _quick(ctx)
    targets = {}
    for name, row in figures.items():
        chosen = row["select"]["accuracy"]
        targets[f"{name}: select >= best family with defaults"] = (
            chosen >= row["best_defaults"]["accuracy"]
        )
        targets[f"{name}: select >= family with defaults chosen on validation"] = (
            chosen >= row["best_defaults_on_validation"]["accuracy"]
        )
        targets[f"{name}: select >= RandomizedSearchCV, same budget"] = (
            chosen >= row["randomized_search"]["accuracy"]
        )
    targets[f"a {QUICK_BUDGET:.0f} s budget answers within {QUICK_LIMIT:.0f} s"] = (
        quick["seconds"] <= QUICK_LIMIT
    )
    return {
        "what": f"test accuracy of three approaches, budget {budget:.0f} s, seed 0",
        "budget_s": budget,
        "figures": figures,
        "quick": quick,
        "summary": {
            name: {
                "select": row["select"]["accuracy"],
                "best defaults": row["best_defaults"]["accuracy"],
                "defaults chosen on validation": row["best_defaults_on_validation"]["accuracy"],
                "RandomizedSearchCV": row["randomized_search"]["accuracy"],
            }
            for name, row in figures.items()
        }
        | {"60 s budget, end to end (s)": quick["seconds"]},
        "targets": targets,
    }
