"""Model selection: the blog's "how to pick the right model", searched and measured on the
user's data.

An Optuna study (TPE, seeded; stored in SQLite beside the results, so ``--resume`` continues it)
searches each candidate family's settings under a wall-clock budget that counts everything; a
pruner stops gradient-trained trials whose accuracy after an epoch is hopeless. The
recommendation is the cheapest model (size, then p50 latency) whose accuracy is not significantly
below the most accurate one's (McNemar's exact test on the same validation rows) among those that
meet the constraints, refitted on every row and written as a model directory.

One module per concern: ``_space`` (what is searched), ``_search`` (the study, the budget, the
pruner), ``_measure`` (the validation scheme and each candidate's figures), ``_rule`` (the
recommendation), ``_report`` (leaderboard.json/.html) and ``_select`` (the entry point).
"""

from modelcycle.selection._measure import CV_BELOW, CV_FOLDS
from modelcycle.selection._report import Leaderboard
from modelcycle.selection._rule import Recommendation, mark_pareto, mcnemar_p, recommend
from modelcycle.selection._select import STUDY_FILE, select

__all__ = [
    "CV_BELOW",
    "CV_FOLDS",
    "STUDY_FILE",
    "Leaderboard",
    "Recommendation",
    "mark_pareto",
    "mcnemar_p",
    "recommend",
    "select",
]
