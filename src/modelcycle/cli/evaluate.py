"""``modelcycle evaluate``: measure a model on labeled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import DataPath, Encoding, LabelColumn, Seed, TextColumn, handle_errors

ModelPath = Annotated[Path, typer.Argument(help="Model directory written by `modelcycle train`.")]


@handle_errors
def evaluate(
    model: ModelPath,
    data: DataPath,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Directory for metrics.json and evaluation.html.")
    ],
    text: TextColumn = None,
    label: LabelColumn = None,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Evaluate a model on labeled data: metrics.json and evaluation.html.

    Example: modelcycle evaluate model/ test.csv -o eval/
    """
    from modelcycle.data import load_dataset
    from modelcycle.evaluation import evaluate as evaluate_model
    from modelcycle.models import load_model

    classifier = load_model(model)
    dataset = load_dataset(data, text=text, label=label, encoding=encoding)
    report = evaluate_model(classifier, dataset, model_name=str(model), seed=seed)
    report.write(out)
    m = report.metrics
    typer.echo(
        f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  on {m['n']:,} rows; "
        f"wrote {out / 'metrics.json'} and {out / 'evaluation.html'}"
    )
