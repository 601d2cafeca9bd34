"""``modelcycle compare``: two models on the same labeled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    LabeledData,
    ReportDir,
    Seed,
    data_command,
    warn,
)


@data_command
def compare(
    model_a: Annotated[Path, typer.Argument(help="Model directory A.", show_default=False)],
    model_b: Annotated[Path, typer.Argument(help="Model directory B.", show_default=False)],
    data: DataPath,
    out: ReportDir,
    source: LabeledData,
    examples: Annotated[
        int, typer.Option(min=0, help="Examples of each kind of disagreement.")
    ] = 10,
    seed: Seed = 42,
) -> None:
    """Compare two models on the same data: accuracy difference with a paired bootstrap
    interval, McNemar's test, and the rows where only one of them is right: comparison.json and
    comparison.html.

    Example: modelcycle compare model_a/ model_b/ test.csv -o comparison/
    """
    from modelcycle.config import EvalConfig  # deferred, as every library import: fast --help
    from modelcycle.evaluation import compare as compare_models
    from modelcycle.models import load_model

    first, second = load_model(model_a), load_model(model_b)
    dataset = source.load(data)
    report = compare_models(
        first,
        second,
        dataset,
        EvalConfig(examples=examples),
        names=(str(model_a), str(model_b)),
        seed=seed,
    )
    report.write(out)
    warn(report.result["warnings"])
    typer.echo(report.summary(out))
