"""``modelcycle export``: a model as an ONNX graph plus its preprocessing, parity checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import Encoding, ModelPath, handle_errors


@handle_errors
def export(
    model: ModelPath,
    out: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            help="FILE.onnx (written with FILE.preprocessing.json, and a transformer's "
            "FILE.tokenizer.json, beside it), or a directory "
            "for an ONNX model directory that load_model, evaluate and predict read.",
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Option(help="Texts to add to the parity check (.csv, .tsv, .parquet, .jsonl)."),
    ] = None,
    text_column: Annotated[
        str | None, typer.Option("--text-column", help="Column holding the text in --data.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="Largest probability difference the parity check allows.")
    ] = 1e-4,
    encoding: Encoding = "utf-8",
    text_input: Annotated[
        bool,
        typer.Option(
            "--text-input",
            help="Write one graph from strings to label and probabilities (FILE.onnx, with "
            "FILE.model_card.md beside it) that runs on any ONNX Runtime without modelcycle.",
        ),
    ] = False,
) -> None:
    """Export a model to ONNX with its preprocessing as data; the export fails if ONNX Runtime
    and the model disagree by more than --tolerance.

    Example: modelcycle export model/ -o model.onnx --text-input
    """
    from modelcycle.artifacts import read_json
    from modelcycle.data import load_dataset
    from modelcycle.export import export_model
    from modelcycle.models import load_model

    classifier = load_model(model)
    texts: list[str] = []
    if data is not None:
        texts = load_dataset(data, text=text_column, encoding=encoding, require_label=False).texts
    about = read_json(model / "model.json") if model.is_dir() else None
    result = export_model(
        classifier, out, texts=texts[:1000], tolerance=tolerance, text_input=text_input, about=about
    )
    typer.echo(result.summary())
