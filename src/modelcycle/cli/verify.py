"""``modelcycle verify``: check a run directory against its ``manifest.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import handle_errors


@handle_errors
def verify(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `modelcycle run`.")],
) -> None:
    """Check every file of a run against its manifest.json; name each changed, missing or extra
    file (exit code 1).

    Example: modelcycle verify runs/demo
    """
    from modelcycle.pipeline import verify_run

    check = verify_run(run_dir)
    if check.ok:
        typer.echo(f"ok: {run_dir}: all {check.checked:,} files match manifest.json")
        return
    for line in check.lines():
        typer.echo(line)
    typer.echo(
        f"error: {run_dir}: {len(check.lines())} file(s) differ from manifest.json", err=True
    )
    raise typer.Exit(1)
