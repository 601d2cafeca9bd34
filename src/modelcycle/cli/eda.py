"""``modelcycle eda``: what is in a labeled text dataset and what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelcycle.cli._common import (
    DataPath,
    Encoding,
    LabelColumn,
    ReportDir,
    Seed,
    TextColumn,
    handle_errors,
)


@handle_errors
def eda(
    data: DataPath,
    out: ReportDir,
    text: TextColumn = None,
    label: LabelColumn = None,
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
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Profile labeled text: duplicates, labels, lengths, words, n-grams, quality; eda.html.

    Example: modelcycle eda train.csv -o eda/ --compare test.csv --max-labels 30
    """
    from modelcycle.data import load_dataset  # deferred, as every library import: fast --help
    from modelcycle.eda import profile

    # missing labels are allowed: the report counts them
    unlabeled: dict[str, Any] = {
        "encoding": encoding,
        "require_label": False,
        "allow_missing_labels": True,
    }
    dataset = load_dataset(data, text=text, label=label, **unlabeled)
    other = None
    if compare is not None:
        other = load_dataset(compare, text=dataset.text, label=dataset.label, **unlabeled)
    report = profile(dataset, compare=other, max_labels=max_labels, seed=seed)
    report.write(out)
    typer.echo(report.summary(out))
