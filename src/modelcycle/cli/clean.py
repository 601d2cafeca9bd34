"""``modelcycle clean``: fix and remove what is wrong in labeled text, recording every change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    LabeledData,
    Seed,
    data_command,
    say,
)


def _label_map(value: str | None) -> str | None:
    if value is None:
        return None
    for item in value.split(","):
        key, sep, target = item.partition("=")
        if not sep or not key.strip() or not target.strip():
            raise typer.BadParameter(f"{item!r} is not OLD=NEW (e.g. 'pos=positive,neg=negative')")
    return value


CleanedOut = Annotated[Path, typer.Option("-o", "--out", help="Cleaned data file to write.")]
Duplicates = Annotated[
    str,
    typer.Option(
        "--duplicates",
        help="Drop exact duplicates, normalized ones too (case, spacing, punctuation, HTML), "
        "or none: exact|normalized|none.",
    ),
]
Conflicts = Annotated[
    str,
    typer.Option("--conflicts", help="The same text with different labels: drop|majority|keep."),
]
Fill = Annotated[
    str | None,
    typer.Option(
        "--fill", help="Fill missing numeric values: median|mean|zero|VALUE (never labels)."
    ),
]
LabelMap = Annotated[
    str | None,
    typer.Option(
        "--label-map", callback=_label_map, help="Rename labels, e.g. 'pos=positive,neg=negative'."
    ),
]
Html = Annotated[bool, typer.Option("--html/--no-html", help="Remove HTML tags and entities.")]
Mojibake = Annotated[bool, typer.Option("--mojibake/--no-mojibake", help="Repair mojibake (ftfy).")]
Unicode = Annotated[bool, typer.Option("--unicode/--no-unicode", help="Normalize Unicode to NFC.")]
Control = Annotated[bool, typer.Option("--control/--no-control", help="Remove control characters.")]
Whitespace = Annotated[
    bool, typer.Option("--whitespace/--no-whitespace", help="Collapse repeated whitespace.")
]
Labels = Annotated[
    bool, typer.Option("--labels/--no-labels", help="Merge labels that differ in case or spaces.")
]
FindLabelIssues = Annotated[
    bool,
    typer.Option(
        "--find-label-issues",
        help="Look for likely label errors (confident learning); report them in "
        "OUT's sibling NAME.label_issues.csv.",
    ),
]
DropLabelIssues = Annotated[
    bool, typer.Option("--drop-label-issues", help="Also remove the likely label errors.")
]
Folds = Annotated[int, typer.Option("--folds", help="Cross-validation folds for label issues.")]


@data_command
def clean(
    ctx: typer.Context,
    data: DataPath,
    out: CleanedOut,
    source: LabeledData,
    duplicates: Duplicates = "exact",
    conflicts: Conflicts = "drop",
    fill: Fill = None,
    label_map: LabelMap = None,
    html: Html = True,
    mojibake: Mojibake = True,
    unicode: Unicode = True,
    control: Control = True,
    whitespace: Whitespace = True,
    labels: Labels = True,
    find_label_issues: FindLabelIssues = False,
    drop_label_issues: DropLabelIssues = False,
    folds: Folds = 5,
    seed: Seed = 42,
) -> None:
    """Clean labeled text: duplicates, missing values, HTML, mojibake, labels; nothing silently.

    Writes OUT (say clean/reviews.csv) and, beside it, reviews.removed.csv and
    reviews.changed.csv (every removed or changed row, with the reason) and
    reviews.clean_report.json (counts of each action). The input is never modified.

    Example: modelcycle clean reviews.csv -o clean/reviews.csv --duplicates normalized
    """
    from modelcycle.cleaning import clean_file, side_files  # deferred: `--help` stays instant
    from modelcycle.config import CleanConfig

    config = CleanConfig.from_flags(ctx.params)
    if config.find_label_issues:
        say("looking for label issues (cross-validated linear model)...")
    report = clean_file(
        data, out, config, text=source.text, label=source.label, encoding=source.encoding
    )
    typer.echo(report.to_text(out))
    typer.echo(f"report: {side_files(out)['report']}")
