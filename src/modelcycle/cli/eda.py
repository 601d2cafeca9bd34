"""``modelcycle eda``: what is in a labeled text dataset and what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    Encoding,
    LabelColumn,
    Seed,
    TextColumn,
    handle_errors,
    plural,
)


@handle_errors
def eda(
    data: DataPath,
    out: Annotated[Path, typer.Option("-o", "--out", help="Directory for eda.json and eda.html.")],
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
    from modelcycle.data import load_dataset
    from modelcycle.eda import profile

    dataset = load_dataset(
        data,
        text=text,
        label=label,
        encoding=encoding,
        require_label=False,
        allow_missing_labels=True,  # the report counts them
    )
    other = None
    if compare is not None:
        other = load_dataset(
            compare,
            text=dataset.text,
            label=dataset.label,
            encoding=encoding,
            require_label=False,
            allow_missing_labels=True,
        )
    report = profile(dataset, compare=other, max_labels=max_labels, seed=seed)
    report.write(out)
    d = report.data
    typer.echo(
        f"{plural(d['rows'], 'row')}, {plural(len(d['labels']), 'label')}, "
        f"{plural(d['duplicates'], 'duplicate')}, "
        f"{d['conflicting_labels']:,} conflicting; wrote {out / 'eda.json'} and "
        f"{out / 'eda.html'}"
    )
