"""``modelcycle train``: fit a model on labeled data and write a model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import DataPath, Encoding, LabelColumn, Seed, TextColumn, handle_errors


@handle_errors
def train(
    data: DataPath,
    out: Annotated[Path, typer.Option("-o", "--out", help="Model directory to write.")],
    text: TextColumn = None,
    label: LabelColumn = None,
    model: Annotated[str, typer.Option("--model", help="Model family, e.g. logreg.")] = "logreg",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Model parameter KEY=VALUE (repeatable), e.g. C=10."),
    ] = None,
    val: Annotated[
        Path | None, typer.Option("--val", help="Validation data to report metrics on.")
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Engineered features to add to the model's inputs, e.g. length,negations "
            "(see `modelcycle features`).",
        ),
    ] = None,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Train a model on labeled text and save it as a model directory.

    Example: modelcycle train reviews.csv --text review_text --label sentiment -o model/
    """
    from modelcycle.config import TrainConfig, parse_assignments
    from modelcycle.data import load_dataset
    from modelcycle.training import train as train_model

    params = parse_assignments(param or [])
    if features:
        params["features"] = [name.strip() for name in features.split(",") if name.strip()]
    config = TrainConfig(model=model, params=params, seed=seed)
    dataset = load_dataset(data, text=text, label=label, encoding=encoding)
    val_set = None
    if val is not None:
        val_set = load_dataset(val, text=dataset.text, label=dataset.label, encoding=encoding)
    result = train_model(dataset, config, val=val_set)
    result.save(out, source=str(data))
    line = f"wrote {out} ({model}, {result.rows:,} rows, {result.seconds:.2f} s to train)"
    if result.val_metrics:
        line += f"; validation accuracy {result.val_metrics['val_accuracy']:.4f}"
    typer.echo(line)
