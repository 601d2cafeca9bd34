"""Likely label errors: out-of-fold probabilities of a quick linear model and confident
learning."""

from __future__ import annotations

import numpy as np
import polars as pl

from modelcycle.cleaning._columns import DETAIL, FINAL, REASON, ROW, TEXT
from modelcycle.cleaning._decide import update
from modelcycle.cleaning._stores import Store
from modelcycle.config import CleanConfig
from modelcycle.exceptions import DataError
from modelcycle.features import NgramFeaturizer


def find_label_issues(
    texts: list[str], labels: np.ndarray, *, folds: int = 5, seed: int = 42
) -> pl.DataFrame:
    """Rows whose label a model trained without them confidently disagrees with.

    Out-of-fold probabilities come from a quick linear model: TF-IDF word 1-2 grams (the
    vocabulary is fitted on every text, which sees no label) and a logistic regression, scored by
    stratified ``folds``-fold cross-validation. :func:`confident_learning` then picks the issues.
    Returns ``position, label, suggested, p_label, p_suggested`` per issue, least likely label
    first.
    """
    # deferred: importing scikit-learn takes about a second, paid only when issues are searched
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    classes, targets = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    counts = np.bincount(targets)
    if len(classes) < 2 or counts.min() < 2:
        small = classes[np.argmin(counts)]
        raise DataError(
            "label issue detection needs at least 2 labels with 2 rows each; "
            f"label {small!r} has {counts.min()}"
        )
    _, matrix = NgramFeaturizer(ngram_range=(1, 2), min_df=2).fit_transform(texts)
    cv = StratifiedKFold(n_splits=min(folds, int(counts.min())), shuffle=True, random_state=seed)
    probs = cross_val_predict(
        LogisticRegression(C=4.0, max_iter=1000), matrix, targets, cv=cv, method="predict_proba"
    )
    issues, suggested = confident_learning(targets, probs)
    positions = np.flatnonzero(issues)
    rows = np.arange(len(targets))
    frame = pl.DataFrame(
        {
            "position": positions,
            "label": classes[targets[positions]],
            "suggested": classes[suggested[positions]],
            "p_label": probs[rows, targets][positions],
            "p_suggested": probs[rows, suggested][positions],
        }
    )
    return frame.sort(["p_label", "position"])


def confident_learning(targets: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confident learning (Northcutt, Jiang and Chuang, JAIR 2021), the ``confident_learning``
    filter of cleanlab's ``find_label_issues``, written small.

    Why not cleanlab itself: it would add pandas, tqdm and termcolor to every install for these
    few lines of numpy; a test checks that both flag the same rows.

    A class's threshold is the mean probability of that class over the rows labeled with it. A row
    is counted as confidently of class ``j`` when its probability of ``j`` reaches ``j``'s
    threshold (the most probable such class if several do); it is an issue when that class is
    not its label, unless its label is also the most probable class. Returns ``(issue mask,
    confident class)`` for ``targets`` (class indices) and ``probs`` (rows x classes).
    """
    n, k = probs.shape
    thresholds = np.array(
        [probs[targets == j, j].mean() if np.any(targets == j) else 2.0 for j in range(k)]
    )
    thresholds = np.clip(thresholds, 2e-6, None)
    confident = probs >= thresholds - 1e-6
    count = confident.sum(axis=1)
    guess = np.where(count > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    issues = (count > 0) & (guess != targets)
    bumped = probs.copy()
    bumped[np.arange(n), targets] += 1e-6
    issues &= bumped.argmax(axis=1) != targets
    return issues, guess


def mark_label_issues(
    store: Store, decisions: pl.DataFrame, label: str, config: CleanConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Find (and with ``drop_label_issues`` remove) likely label errors among the kept rows."""
    texts: list[str] = []
    rows: list[pl.Series] = []
    for batch in store.batches():
        start = int(batch.get_column(ROW)[0]) - 1
        alive = decisions.slice(start, batch.height).get_column(REASON).is_null()
        texts.extend(batch.get_column(TEXT).filter(alive).to_list())
        rows.append(batch.get_column(ROW).filter(alive))
    row_ids = pl.concat(rows)
    kept = decisions.filter(pl.col(REASON).is_null())
    labels = kept.get_column(FINAL).to_numpy().astype(str)
    found = find_label_issues(texts, labels, folds=config.label_issue_folds, seed=config.seed)
    positions = found.get_column("position").to_numpy()
    issues = found.select(
        pl.Series("row", row_ids.to_numpy()[positions]),
        pl.col("label"),
        pl.col("suggested"),
        pl.col("p_label").round(4),
        pl.col("p_suggested").round(4),
        pl.Series("text", [texts[i] for i in positions], dtype=pl.String),
    )
    if config.drop_label_issues and issues.height:
        removals = issues.select(
            pl.col("row").alias(ROW),
            pl.lit("label_issue").alias(REASON),
            pl.format(
                "labeled '{}', the model says '{}' (p={})", "label", "suggested", "p_suggested"
            ).alias(DETAIL),
        )
        decisions = update(decisions, removals)
    return decisions, issues
