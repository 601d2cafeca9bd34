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
    raw: Annotated[
        bool, typer.Option("--raw", help="Ignore the model's stored calibration and threshold.")
    ] = False,
    encoding: Encoding = "utf-8",
) -> None:
    """Predict labels and per-class scores for a file of texts or for --text.

    Example: modelcycle predict model/ --text "I loved it"
    """
    from modelcycle.data import load_dataset
    from modelcycle.models import load_model
    from modelcycle.prediction import predict as predict_texts
    from modelcycle.prediction import predict_dataset

    if (data is None) == (not texts):
        raise typer.BadParameter(
            "give either a DATA file (with -o OUT) or one or more --text, not both"
        )
    classifier = load_model(model)
    if texts:
        for text, record in zip(
            texts, predict_texts(classifier, texts, raw=raw).records(), strict=True
        ):
            typer.echo(json.dumps({"text": text, **record}, ensure_ascii=False))
        return
    assert data is not None
    if out is None:
        raise typer.BadParameter("predicting a file needs -o OUT (e.g. -o predictions.csv)")
    dataset = load_dataset(data, text=text_column, encoding=encoding, require_label=False)
    predict_dataset(classifier, dataset, out, raw=raw)
    typer.echo(f"wrote {len(dataset):,} predictions to {out}")
