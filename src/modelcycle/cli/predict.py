"""``modelcycle predict``: label new texts, from a file or the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import Encoding, handle_errors
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
    `predicted` and a `score_<class>` column per class. A bad row (no text, a broken CSV
    record) is reported on stderr with its row number and skipped; the rest goes on.

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
    skipped = f"; skipped {report.bad_rows:,} bad rows (listed above)" if report.bad_rows else ""
    threads_used = f"{report.threads} thread{'s' if report.threads > 1 else ''}"
    typer.echo(
        f"wrote {report.predicted:,} predictions to {out}{skipped}; "
        f"{report.rows_per_second:,.0f} rows/s on {threads_used}"
    )
