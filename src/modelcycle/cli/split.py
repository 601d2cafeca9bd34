"""``modelcycle split``: train/validation/test files; stratified, grouped or by time; leak-free."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    LabeledData,
    Seed,
    config_from_flags,
    data_command,
)


@data_command
def split(
    ctx: typer.Context,
    data: DataPath,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Directory for the parts and split.json.")
    ],
    source: LabeledData,
    test: Annotated[float, typer.Option("--test", help="Share of rows for the test part.")] = 0.2,
    val: Annotated[
        float, typer.Option("--val", help="Share of rows for validation (0: none).")
    ] = 0.1,
    group: Annotated[
        str | None,
        typer.Option("--group", help="Column whose rows stay on one side (a user, a product)."),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option("--time", help="Column to order by: train on the past, test on the future."),
    ] = None,
    stratify: Annotated[
        bool, typer.Option("--stratify/--no-stratify", help="Keep each label's share per part.")
    ] = True,
    leakage_guard: Annotated[
        bool,
        typer.Option(
            "--leakage-guard/--no-leakage-guard",
            help="Keep rows with equal normalized texts on one side.",
        ),
    ] = True,
    fmt: Annotated[
        str, typer.Option("--format", help="File format of the parts: csv|tsv|parquet|jsonl.")
    ] = "csv",
    seed: Seed = 42,
) -> None:
    """Split labeled data into train, validation and test files and write split.json.

    Example: modelcycle split reviews.csv -o parts/ --test 0.2 --val 0.1 --group movie
    """
    from modelcycle._io import atomic_dir  # deferred, as every library import: fast --help
    from modelcycle.config import SplitConfig
    from modelcycle.split import SPLIT_FILE, split_dataset, split_summary, write_splits

    if fmt not in ("csv", "tsv", "parquet", "jsonl"):
        raise typer.BadParameter(f"--format must be csv, tsv, parquet or jsonl, got {fmt!r}")
    config = config_from_flags(SplitConfig, ctx.params)
    dataset = source.load(data)
    splits = split_dataset(dataset, config)
    with atomic_dir(out, replace_if=SPLIT_FILE) as tmp:
        document = write_splits(splits, tmp, config, suffix=f".{fmt}")
    typer.echo(split_summary(document, out))
