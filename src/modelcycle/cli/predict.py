"""``modelcycle predict``: label new texts, from a file or the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer

from modelcycle.cli._common import Encoding, ModelPath, Raw, handle_errors

DATA_OR_TEXT = "give either a DATA file (with -o OUT) or one or more --text, not both"


@handle_errors
def predict(
    model: ModelPath,
    data: Annotated[
        Path | None, typer.Argument(help="Texts to label (.csv, .tsv, .parquet, .jsonl).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Predictions file (.csv, .jsonl, .parquet).")
    ] = None,
    texts: Annotated[
        list[str] | None,
        typer.Option("--text", help="A text to label (repeatable); prints JSON lines."),
    ] = None,
    text_column: Annotated[
        str | None, typer.Option("--text-column", help="Column holding the text in DATA.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="Column of DATA to copy into OUT beside each row.")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="Threads sharing the rows of DATA (default: one per core)."),
    ] = None,
    raw: Raw = False,
    encoding: Encoding = "utf-8",
    engine: Annotated[
        Literal["local", "ray"],
        typer.Option(
            help="Where a file is predicted: threads here (local) or Ray Data (ray: one model per"
            " actor, --threads actors; needs modelcycle's ray extra)."
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to run on with --engine ray (default: a Ray started here)."),
    ] = None,
) -> None:
    """Predict labels and per-class scores for a file of texts or for --text.

    A file is streamed in chunks (any size) on every core, with a progress bar; OUT (.csv,
    .jsonl or .parquet) gets the --id column, the text, the true label if DATA has one,
    `predicted` and a `score_<class>` column per class; when the model has a stored threshold
    (`modelcycle calibrate`), a `changed_by_threshold` column is true where it, not the top
    score, chose the label (--raw ignores the threshold). A bad row (no text, a broken CSV
    record) is reported on stderr with its row number and skipped; the rest goes on. OUT must
    not be DATA; if interrupted (Ctrl-C, SIGTERM), nothing is written. --engine ray runs the
    same on Ray Data, on a Ray started here or on the cluster at --address, whose nodes must
    see MODEL and DATA at the same paths; OUT is the same single file.

    Example: modelcycle predict model/ --text "I loved it"
    """
    from modelcycle import prediction  # deferred, as every library import: fast --help
    from modelcycle.models import load_model

    if texts and data is None:
        typer.echo(prediction.predict(load_model(model), texts, raw=raw).json_lines(texts))
        return
    if data is None or texts:
        raise typer.BadParameter(DATA_OR_TEXT)
    if out is None:
        raise typer.BadParameter("predicting a file needs -o OUT (e.g. -o predictions.csv)")
    with _exit_on_interrupt(out):
        report = prediction.predict_file(
            model,
            data,
            out,
            text=text_column,
            id_column=id_column,
            raw=raw,
            encoding=encoding,
            threads=threads,
            engine=engine,
            address=address,
            on_bad_row=lambda bad: typer.echo(f"{data}, {bad}", err=True),
        )
    typer.echo(report.summary())


@contextmanager
def _exit_on_interrupt(out: Path) -> Iterator[None]:
    """Ctrl-C or SIGTERM: the temporary output is removed (by the writer's cleanup), one line
    says so, and the exit code is 130 or 143 (128 + the signal's number), as shells expect."""
    from modelcycle._io import Terminated, sigterm_interrupts

    try:
        with sigterm_interrupts():
            yield
    except KeyboardInterrupt as exc:
        name, code = ("SIGTERM", 143) if isinstance(exc, Terminated) else ("SIGINT", 130)
        typer.echo(f"error: interrupted by {name}; nothing was written to {out}", err=True)
        raise typer.Exit(code) from None
