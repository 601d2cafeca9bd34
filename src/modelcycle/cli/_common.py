"""What every command shares: the common options and the one-line error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from modelcycle.exceptions import ModelcycleError

if TYPE_CHECKING:
    from modelcycle.data import Dataset

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
ModelPath = Annotated[Path, typer.Argument(help="Model directory written by `modelcycle train`.")]
ReportDir = Annotated[
    Path, typer.Option("-o", "--out", help="Directory for the report: its .json and .html files.")
]
Raw = Annotated[
    bool, typer.Option("--raw", help="Ignore the model's stored calibration and threshold.")
]
ThresholdMetric = Annotated[
    str | None,
    typer.Option(
        "--threshold",
        help="Tune the decision threshold of a 2-label model on the validation data for: f1, "
        "accuracy, precision@recall=X (best precision with recall >= X), recall@precision=X.",
    ),
]
PositiveLabel = Annotated[
    str | None,
    typer.Option("--positive", help="The label the threshold is on (default: the second, sorted)."),
]
Track = Annotated[
    str | None,
    typer.Option(
        "--track",
        envvar="MLFLOW_TRACKING_URI",
        help="Log to MLflow at this tracking URI (needs modelcycle[tracking]), e.g. "
        "sqlite:///mlflow.db or http://127.0.0.1:5000.",
    ),
]
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


def say(message: str | None) -> None:
    """Progress for people, on stderr, so that stdout stays clean for data; None says nothing."""
    if message is not None:
        typer.echo(message, err=True)


def warn(warnings: list[str]) -> None:
    """Each of a result's warnings, on stderr."""
    for warning in warnings:
        say(f"warning: {warning}")


def load_with_val(
    data: Path, val: Path | None, *, text: str | None, label: str | None, encoding: str
) -> tuple[Dataset, Dataset | None]:
    """Load DATA and, when given, validation data with DATA's text and label columns."""
    from modelcycle.data import load_dataset  # deferred: `--help` stays instant

    dataset = load_dataset(data, text=text, label=label, encoding=encoding)
    if val is None:
        return dataset, None
    return dataset, load_dataset(val, text=dataset.text, label=dataset.label, encoding=encoding)
