"""What every command shares: the common options and the one-line error handling."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from modelcycle.exceptions import ModelcycleError

if TYPE_CHECKING:
    from modelcycle.data import Dataset

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")

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


def config_from_flags(config: type[C], flags: Mapping[str, Any]) -> C:
    """The stage config ``config`` (a dataclass) made of the command's flags named as its fields."""
    names = {field.name for field in dataclasses.fields(config)}  # type: ignore[arg-type]
    return config(**{name: value for name, value in flags.items() if name in names})


def say(message: str | None) -> None:
    """Progress for people, on stderr, so that stdout stays clean for data; None says nothing."""
    if message is not None:
        typer.echo(message, err=True)


def warn(warnings: list[str]) -> None:
    """Each of a result's warnings, on stderr."""
    for warning in warnings:
        say(f"warning: {warning}")


@dataclass(frozen=True)
class LabeledData:
    """Where the text and label of the labeled data are, and its encoding: the options
    --text, --label and --encoding, which :func:`data_command` gives a command."""

    text: str | None = None
    label: str | None = None
    encoding: str = "utf-8"

    def load(self, path: Path, **options: Any) -> Dataset:
        """The dataset at ``path`` (``options``: those of :func:`~modelcycle.data.load_dataset`)."""
        from modelcycle.data import load_dataset  # deferred: `--help` stays instant

        return load_dataset(
            path, text=self.text, label=self.label, encoding=self.encoding, **options
        )

    def load_pair(
        self, path: Path, other: Path | None, **options: Any
    ) -> tuple[Dataset, Dataset | None]:
        """The dataset at ``path`` and, when given, ``other`` (validation or comparison data)
        read with the first one's text and label columns."""
        dataset = self.load(path, **options)
        if other is None:
            return dataset, None
        same = LabeledData(dataset.text, dataset.label, self.encoding)
        return dataset, same.load(other, **options)


_DATA_OPTIONS = [
    inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=kind
    )
    for name, kind, default in (
        ("text", TextColumn, None),
        ("label", LabelColumn, None),
        ("encoding", Encoding, "utf-8"),
    )
]


def data_command(command: Callable[..., R]) -> Callable[..., R]:
    """A command that reads labeled data: it takes the options --text, --label and --encoding
    in place of its parameter ``source``, which receives them as one :class:`LabeledData`, and
    its errors become one line (:func:`handle_errors`)."""
    signature = inspect.signature(command, eval_str=True)
    parameters = []
    for parameter in signature.parameters.values():
        parameters += _DATA_OPTIONS if parameter.name == "source" else [parameter]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        options = {p.name: kwargs.pop(p.name) for p in _DATA_OPTIONS}
        return command(*args, source=LabeledData(**options), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return handle_errors(wrapper)
