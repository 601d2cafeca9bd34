"""What every command shares: the common options and the one-line error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from modelcycle.exceptions import ModelcycleError

P = ParamSpec("P")
R = TypeVar("R")

TextColumn = Annotated[
    str | None,
    typer.Option("--text", help="Column holding the text (default: detected from its name)."),
]
LabelColumn = Annotated[
    str | None,
    typer.Option("--label", help="Column holding the label (default: detected from its name)."),
]
Encoding = Annotated[
    str, typer.Option("--encoding", help="Text encoding of the input file, e.g. latin-1.")
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed, the same result.")]
DataPath = Annotated[
    Path,
    typer.Argument(
        help="Labeled data: .csv, .tsv, .parquet or .jsonl (optionally .gz).", show_default=False
    ),
]


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a ModelcycleError or OSError into one line on stderr and exit code 1; so too a
    package the command needs that this install lacks (e.g. ``predict`` in the serving image,
    which carries only the ``serve`` extra)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ModelcycleError, OSError) as exc:
            message = " ".join(str(exc).split())
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(1) from None
        except ModuleNotFoundError as exc:
            typer.echo(
                f"error: this command needs the package {exc.name!r}, which this installation "
                "lacks; install modelcycle with the extras it needs (`make install` installs all)",
                err=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def say(message: str) -> None:
    """Progress for people, on stderr, so that stdout stays clean for data."""
    typer.echo(message, err=True)


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` (with thousands separators) and ``word``, plural unless ``n`` is 1.

    ``plural(1, "row") == "1 row"``, ``plural(2500, "row") == "2,500 rows"``; ``words`` gives an
    irregular plural (``plural(2, "was", "were")``).
    """
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
