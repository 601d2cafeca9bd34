"""``modelcycle clean``: fix and remove what is wrong in labeled text, recording every change."""

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


@handle_errors
def clean(
    data: DataPath,
    out: Annotated[Path, typer.Option("-o", "--out", help="Cleaned data file to write.")],
    text: TextColumn = None,
    label: LabelColumn = None,
    duplicates: Annotated[
        str,
        typer.Option(
            "--duplicates",
            help="Drop exact duplicates, normalized ones too (case, spacing, punctuation, HTML), "
            "or none: exact|normalized|none.",
        ),
    ] = "exact",
    conflicts: Annotated[
        str,
        typer.Option(
            "--conflicts", help="The same text with different labels: drop|majority|keep."
        ),
    ] = "drop",
    fill: Annotated[
        str | None,
        typer.Option(
            "--fill", help="Fill missing numeric values: median|mean|zero|VALUE (never labels)."
        ),
    ] = None,
    label_map: Annotated[
        str | None,
        typer.Option(
            "--label-map",
            callback=_label_map,
            help="Rename labels, e.g. 'pos=positive,neg=negative'.",
        ),
    ] = None,
    html: Annotated[
        bool, typer.Option("--html/--no-html", help="Remove HTML tags and entities.")
    ] = True,
    mojibake: Annotated[
        bool, typer.Option("--mojibake/--no-mojibake", help="Repair mojibake (ftfy).")
    ] = True,
    unicode: Annotated[
        bool, typer.Option("--unicode/--no-unicode", help="Normalize Unicode to NFC.")
    ] = True,
    control: Annotated[
        bool, typer.Option("--control/--no-control", help="Remove control characters.")
    ] = True,
    whitespace: Annotated[
        bool, typer.Option("--whitespace/--no-whitespace", help="Collapse repeated whitespace.")
    ] = True,
    labels: Annotated[
        bool,
        typer.Option("--labels/--no-labels", help="Merge labels that differ in case or spaces."),
    ] = True,
    find_label_issues: Annotated[
        bool,
        typer.Option(
            "--find-label-issues",
            help="Look for likely label errors (confident learning); report them in "
            "OUT's sibling NAME.label_issues.csv.",
        ),
    ] = False,
    drop_label_issues: Annotated[
        bool, typer.Option("--drop-label-issues", help="Also remove the likely label errors.")
    ] = False,
    folds: Annotated[
        int, typer.Option("--folds", help="Cross-validation folds for label issues.")
    ] = 5,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Clean labeled text: duplicates, missing values, HTML, mojibake, labels; nothing silently.

    Writes OUT (say clean/reviews.csv) and, beside it, reviews.removed.csv and
    reviews.changed.csv (every removed or changed row, with the reason) and
    reviews.clean_report.json (counts of each action). The input is never modified.

    Example: modelcycle clean reviews.csv -o clean/reviews.csv --duplicates normalized
    """
    from modelcycle.cleaning import clean_file, side_files
    from modelcycle.config import CleanConfig

    pairs = dict(item.split("=", 1) for item in label_map.split(",")) if label_map else {}
    config = CleanConfig(
        duplicates=duplicates,
        conflicts=conflicts,
        fill=fill,
        html=html,
        mojibake=mojibake,
        unicode=unicode,
        control=control,
        whitespace=whitespace,
        labels=labels,
        label_map={k.strip(): v.strip() for k, v in pairs.items()},
        find_label_issues=find_label_issues or drop_label_issues,
        drop_label_issues=drop_label_issues,
        label_issue_folds=folds,
        seed=seed,
    )
    if config.find_label_issues:
        say("looking for label issues (cross-validated linear model)...")
    report = clean_file(data, out, config, text=text, label=label, encoding=encoding)
    summary = report.summary
    removed = ", ".join(f"{n:,} {why}" for why, n in summary["removed"].items() if n) or "none"
    changed = ", ".join(f"{n:,} {why}" for why, n in summary["changed"].items()) or "none"
    typer.echo(
        f"wrote {out}: {summary['rows_out']:,} of {plural(summary['rows_in'], 'row')}\n"
        f"removed {plural(summary['rows_removed'], 'row')} ({removed})\n"
        f"changed {plural(summary['rows_changed'], 'row')} ({changed})"
    )
    if "label_issues" in summary:
        issues = summary["label_issues"]
        typer.echo(f"label issues: {issues['found']:,} found, {issues['dropped']:,} removed")
        for example in issues["examples"][:3]:
            typer.echo(
                f"  row {example['row']}: labeled {example['label']!r}, the model says "
                f"{example['suggested']!r} (p={example['p_suggested']:.2f}): "
                f"{example['text'][:80]!r}"
            )
    typer.echo(f"report: {side_files(out)['report']}")
