"""``modelcycle features``: add engineered numeric columns (length, words, ...) to a data file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle._wording import plural
from modelcycle.cli._common import DataPath, Encoding, TextColumn, handle_errors


@handle_errors
def features(
    data: DataPath,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Data file to write, with the features.")
    ],
    names: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Comma-separated features (default all): length, words, mean_word_length, "
            "upper_share, exclamations, questions, digits, urls, emoji, negations.",
        ),
    ] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Prefix of the new column names.")] = "",
    text: TextColumn = None,
    encoding: Encoding = "utf-8",
) -> None:
    """Add engineered features of each text as new columns (computed vectorised with polars).

    Example: modelcycle features reviews.csv -o reviews_features.csv --features length,words
    """
    from modelcycle.data import load_dataset, write_table
    from modelcycle.features import add_engineered_features

    chosen = [name.strip() for name in names.split(",") if name.strip()] if names else None
    dataset = load_dataset(data, text=text, encoding=encoding, require_label=False)
    frame, added = add_engineered_features(dataset, chosen, prefix=prefix)
    write_table(frame, out)
    typer.echo(f"wrote {out}: {plural(frame.height, 'row')}, added {', '.join(added)}")
