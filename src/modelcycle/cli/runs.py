"""``modelcycle runs list`` and ``modelcycle runs compare``: runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import ReportDir, handle_errors

app = typer.Typer(help="List and compare run directories.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_(
    root: Annotated[
        Path, typer.Argument(help="A directory of run directories (or one run).")
    ] = Path("runs"),
) -> None:
    """A table of the runs in a directory: date, data, model, headline test metrics.

    Example: modelcycle runs list runs
    """
    from modelcycle.pipeline import list_runs, runs_table

    rows = list_runs(root)
    typer.echo(runs_table(rows) if rows else f"no run directories in {root}")


@app.command("compare")
@handle_errors
def compare(
    runs: Annotated[
        list[Path], typer.Argument(help="Two or more run directories; the first is A.")
    ],
    out: ReportDir,
) -> None:
    """Compare runs: config differences, metric differences, and paired tests (McNemar, paired
    bootstrap) where the runs predicted the same test rows; one HTML page.

    Example: modelcycle runs compare runs/a runs/b -o runs/a-vs-b
    """
    from modelcycle.pipeline import compare_runs

    comparison = compare_runs(runs)
    comparison.write(out)
    typer.echo(comparison.summary(out))
