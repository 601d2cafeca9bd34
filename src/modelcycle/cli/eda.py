"""``modelcycle eda``: what is in a labeled text dataset and what is wrong with it."""

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
)


@data_command
def eda(
    data: DataPath,
    out: ReportDir,
    source: LabeledData,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="A second file (e.g. the test set) to compare with: overlap and shift.",
        ),
    ] = None,
    max_labels: Annotated[
        int,
        typer.Option(
            "--max-labels",
            min=1,
            help="Labels (the largest) that get per-label lengths, n-grams and plots; the rest "
            "are counted together and reported as other_labels.",
        ),
    ] = 20,
    seed: Seed = 42,
) -> None:
    """Profile labeled text: duplicates, labels, lengths, words, n-grams, quality; eda.html.

    Example: modelcycle eda train.csv -o eda/ --compare test.csv --max-labels 30
    """
    from modelcycle.eda import profile  # deferred, as every library import: fast --help

    # missing labels are allowed: the report counts them
    dataset, other = source.load_pair(data, compare, require_label=False, allow_missing_labels=True)
    report = profile(dataset, compare=other, max_labels=max_labels, seed=seed)
    report.write(out)
    typer.echo(report.summary(out))
