"""``modelcycle select``: search the model families' settings on the user's data and recommend one
by a stated rule."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import DataPath, LabeledData, Seed, Track, data_command, say
from modelcycle.tracking import track as log_to_mlflow  # light: MLflow loads when used

SelectDir = Annotated[
    Path,
    typer.Option("-o", "--out", help="Directory for leaderboard.json/.html, the study and model/."),
]
Models = Annotated[str, typer.Option(help="Comma-separated candidate families.")]
Budget = Annotated[
    str, typer.Option(help="Wall-clock budget for everything: 90s, 10m, 1h (plain: seconds).")
]
Trials = Annotated[int | None, typer.Option(help="At most this many trials (default: no limit).")]
ValData = Annotated[
    Path | None, typer.Option("--val", help="Validation data (default: chosen by the data's size).")
]
ValShare = Annotated[float, typer.Option(help="Share held out when scoring on a held-out part.")]
Folds = Annotated[
    int | None,
    typer.Option(help="k-fold cross-validation (k >= 2), or 0 for a held-out part; default: "
                 "5 folds below 2,000 rows, else held out."),
]  # fmt: skip
MaxLatency = Annotated[float | None, typer.Option(help="Constraint: p50 latency for one text.")]
MaxSize = Annotated[float | None, typer.Option(help="Constraint: model size on disk.")]
MinAccuracy = Annotated[float | None, typer.Option(help="Constraint: validation accuracy.")]
Alpha = Annotated[float, typer.Option(help="Level of the paired test (McNemar's exact test).")]
Quantize = Annotated[bool, typer.Option(help="Also weigh INT8/PQ variants of the top trials.")]
Storage = Annotated[
    str | None,
    typer.Option(help="Optuna storage URL (default: sqlite in -o), e.g. postgresql://host/db."),
]
Resume = Annotated[bool, typer.Option(help="Continue the study stored in -o (or --storage).")]


@data_command
def select(
    data: DataPath,
    out: SelectDir,
    source: LabeledData,
    models: Models = "logreg,svm,nb,fasttext,mlp,transformer",
    budget: Budget = "10m",
    trials: Trials = None,
    val: ValData = None,
    val_share: ValShare = 0.2,
    cv: Folds = None,
    max_latency_ms: MaxLatency = None,
    max_size_mb: MaxSize = None,
    min_accuracy: MinAccuracy = None,
    alpha: Alpha = 0.05,
    quantize: Quantize = False,
    storage: Storage = None,
    resume: Resume = False,
    seed: Seed = 42,
    track: Track = None,
) -> None:
    """Search each family's settings (Optuna) within the budget, and recommend the cheapest model
    (size, then latency) not significantly less accurate than the best, under your constraints:
    leaderboard.json, leaderboard.html, the study (study.db) and the picked model (model/).

    Example: modelcycle select reviews.csv -o sel/ --budget 10m --max-latency-ms 1
    """
    started = time.monotonic()
    from modelcycle.config import SelectConfig  # deferred, as every library import: fast --help
    from modelcycle.selection import select as select_model

    config = SelectConfig(
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        budget=SelectConfig.parse_budget(budget),
        trials=trials,
        val=val_share,
        cv=cv,
        max_latency_ms=max_latency_ms,
        max_size_mb=max_size_mb,
        min_accuracy=min_accuracy,
        alpha=alpha,
        quantize=quantize,
        storage=storage,
        resume=resume,
        seed=seed,
    )
    dataset, val_set = source.load_pair(data, val)
    board = select_model(dataset, config, out_dir=out, val=val_set, progress=say, started=started)
    typer.echo(board.summary(out))
    say(log_to_mlflow(track, "select", out, {"data": data, "select": config}))
