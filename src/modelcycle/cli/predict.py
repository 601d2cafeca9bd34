"""``modelcycle predict``: label new texts, from a file or the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import Encoding, handle_errors, plural
from modelcycle.cli.evaluate import ModelPath


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
    raw: Annotated[
        bool, typer.Option("--raw", help="Ignore the model's stored calibration and threshold.")
    ] = False,
    encoding: Encoding = "utf-8",
) -> None:
    """Predict labels and per-class scores for a file of texts or for --text.

    A file is streamed in chunks (any size) on every core, with a progress bar; OUT (.csv,
    .jsonl or .parquet) gets the --id column, the text, the true label if DATA has one,
    `predicted` and a `score_<class>` column per class; when the model has a stored threshold
    (`modelcycle calibrate`), a `changed_by_threshold` column is true where it, not the top
    score, chose the label (--raw ignores the threshold). A bad row (no text, a broken CSV
    record) is reported on stderr with its row number and skipped; the rest goes on. OUT must
    not be DATA; if interrupted (Ctrl-C, SIGTERM), nothing is written.

    Example: modelcycle predict model/ --text "I loved it"
    """
    from modelcycle.models import load_model
    from modelcycle.prediction import predict as predict_texts
    from modelcycle.prediction import predict_file

    if (data is None) == (not texts):
        raise typer.BadParameter(
            "give either a DATA file (with -o OUT) or one or more --text, not both"
        )
    if texts:
        classifier = load_model(model)
        for text, record in zip(
            texts, predict_texts(classifier, texts, raw=raw).records(), strict=True
        ):
            typer.echo(json.dumps({"text": text, **record}, ensure_ascii=False))
        return
    assert data is not None
    if out is None:
        raise typer.BadParameter("predicting a file needs -o OUT (e.g. -o predictions.csv)")
    with _exit_on_interrupt(out):
        report = predict_file(
            model,
            data,
            out,
            text=text_column,
            id_column=id_column,
            raw=raw,
            encoding=encoding,
            threads=threads,
            on_bad_row=lambda bad: typer.echo(f"{data}, {bad}", err=True),
        )
    skipped = f"; skipped {plural(report.bad_rows, 'bad row')} (listed above)"
    typer.echo(
        f"wrote {plural(report.predicted, 'prediction')} to {out}"
        f"{skipped if report.bad_rows else ''}; "
        f"{report.rows_per_second:,.0f} rows/s on {plural(report.threads, 'thread')}"
    )
    if report.threshold is not None:
        threshold = report.threshold
        tuned = f", tuned for {threshold.metric}" if threshold.metric else ""
        typer.echo(
            f"{plural(report.changed_by_threshold, 'prediction')} "
            f"{'differs' if report.changed_by_threshold == 1 else 'differ'} from the top score "
            f"because of the stored threshold {threshold.value:g} on {threshold.label!r}{tuned} "
            f"(column changed_by_threshold; --raw ignores the threshold)"
        )


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
