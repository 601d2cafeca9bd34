"""``modelcycle select``: compare model families on the user's data and recommend one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    Encoding,
    LabelColumn,
    ReportDir,
    Seed,
    TextColumn,
    Track,
    handle_errors,
    load_with_val,
    say,
)
from modelcycle.tracking import track as log_to_mlflow  # light: MLflow loads when used


@handle_errors
def select(
    data: DataPath,
    out: ReportDir,
    text: TextColumn = None,
    label: LabelColumn = None,
    models: Annotated[
        str,
        typer.Option(help="Comma-separated families to compare."),
    ] = "logreg,svm,nb,fasttext,mlp",
    val: Annotated[
        Path | None, typer.Option(help="Validation data (default: hold out --val-share).")
    ] = None,
    val_share: Annotated[float, typer.Option(help="Share held out when there is no --val.")] = 0.2,
    cv: Annotated[int, typer.Option(help="k-fold cross-validation instead (k >= 2).")] = 0,
    max_latency_ms: Annotated[
        float | None, typer.Option(help="Constraint: p50 latency for one text.")
    ] = None,
    max_size_mb: Annotated[
        float | None, typer.Option(help="Constraint: model size on disk.")
    ] = None,
    min_accuracy: Annotated[
        float | None, typer.Option(help="Constraint: validation accuracy.")
    ] = None,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
    track: Track = None,
) -> None:
    """Train the candidate families, measure them, and recommend one under your constraints:
    leaderboard.json and leaderboard.html.

    Example: modelcycle select reviews.csv -o selection/ --max-latency-ms 1
    """
    from modelcycle.config import SelectConfig  # deferred, as every library import: fast --help
    from modelcycle.selection import select as select_model

    config = SelectConfig(
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        val=val_share,
        cv=cv,
        max_latency_ms=max_latency_ms,
        max_size_mb=max_size_mb,
        min_accuracy=min_accuracy,
        seed=seed,
    )
    dataset, val_set = load_with_val(data, val, text=text, label=label, encoding=encoding)
    board = select_model(dataset, config, val=val_set, progress=lambda name: say(f"· {name}"))
    board.write(out)
    typer.echo(board.summary(out))
    say(log_to_mlflow(track, "select", out, {"data": data, "select": config}))
