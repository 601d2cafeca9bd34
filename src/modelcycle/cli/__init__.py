"""The ``modelcycle`` command line: a thin layer, one module per stage, over the library.

Every command parses its arguments, calls one library function and prints the result; a
:class:`~modelcycle.exceptions.ModelcycleError` becomes one line on stderr and exit code 1,
bad usage exit code 2. Library modules are imported inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelcycle._version import __version__
from modelcycle.cli import (
    calibrate,
    clean,
    compare,
    datasets,
    eda,
    evaluate,
    export,
    features,
    predict,
    quantize,
    run,
    runs,
    select,
    serve,
    split,
    train,
    verify,
)

app = typer.Typer(
    name="modelcycle",
    help="Labeled text through every stage of a model's life: data preparation, EDA, training, "
    "evaluation, quantization, export, prediction, serving.\n\nQuick start: modelcycle demo",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command(name="eda")(eda.eda)
app.command(name="clean")(clean.clean)
app.command(name="features")(features.features)
app.command(name="split")(split.split)
app.add_typer(datasets.app, name="datasets")
app.command(name="train")(train.train)
app.command(name="evaluate")(evaluate.evaluate)
app.command(name="calibrate")(calibrate.calibrate)
app.command(name="compare")(compare.compare)
app.command(name="predict")(predict.predict)
app.command(name="select")(select.select)
app.command(name="export")(export.export)
app.command(name="quantize")(quantize.quantize)
app.command(name="serve")(serve.serve)
app.command(name="run")(run.run)
app.command(name="demo")(run.demo)
app.command(name="verify")(verify.verify)
app.add_typer(runs.app, name="runs")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"modelcycle {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Labeled text through every stage of a model's life."""


def main() -> None:
    """Entry point of the ``modelcycle`` console script."""
    app(prog_name="modelcycle")
