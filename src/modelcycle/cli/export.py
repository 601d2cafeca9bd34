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
) -> None:
    """Export a model to ONNX with its preprocessing as data; the export fails if ONNX Runtime
    and the model disagree by more than --tolerance.

    Example: modelcycle export model/ -o model.onnx
    """
    from modelcycle.data import load_dataset
    from modelcycle.export import export_model
    from modelcycle.models import load_model

    classifier = load_model(model)
    texts: list[str] = []
    if data is not None:
        texts = load_dataset(data, text=text_column, encoding=encoding, require_label=False).texts
    result = export_model(classifier, out, texts=texts[:1000], tolerance=tolerance)
    written = (
        f"{out} and {out.with_name(out.name.removesuffix('.onnx') + '.preprocessing.json')}"
        if out.suffix == ".onnx"
        else f"the model directory {out}"
    )
    if out.suffix == ".onnx" and result.family == "transformer":
        from modelcycle.runtime import tokenizer_path

        written += f" and {tokenizer_path(out)}"
    typer.echo(
        f"wrote {written} ({result.family}, graph {result.size_bytes:,} bytes); parity with "
        f"the model: max difference {result.max_abs_diff:.1e} on {result.parity_texts} texts"
    )
