"""``modelcycle quantize``: FP32, FP16 and INT8 variants of a model and the measured table."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    LabeledData,
    ModelPath,
    Seed,
    data_command,
    say,
)


@data_command
def quantize(
    model: ModelPath,
    data: Annotated[
        Path, typer.Option("--data", help="Labeled test data to measure every variant on.")
    ],
    out: Annotated[
        Path,
        typer.Option("-o", "--out", help="Directory: a model directory per variant + the table."),
    ],
    source: LabeledData,
    precision: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated variants: fp32, fp16, int8, int8-static, pruned, pq "
            "(default: every one that applies; fp32 is always made)."
        ),
    ] = None,
    calibrate: Annotated[
        int, typer.Option(help="Static INT8 calibrated on N texts (adds int8-static).")
    ] = 0,
    calibration_data: Annotated[
        Path | None,
        typer.Option(help="Texts for calibration and the guardrail (default: a sample of --data)."),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(help="Pick the smallest variant within this many accuracy points of FP32."),
    ] = None,
    prune_vocab: Annotated[
        int | None,
        typer.Option(help="fasttext: keep the K table rows of largest norm (adds 'pruned')."),
    ] = None,
    text_input: Annotated[
        bool,
        typer.Option(
            "--text-input",
            help="Also write each variant as text.onnx: strings in, label and probabilities out.",
        ),
    ] = False,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads.")] = 2,
    batch_size: Annotated[int, typer.Option(help="Batch size of the throughput measure.")] = 32,
    seed: Seed = 42,
) -> None:
    """Make FP32, FP16 and INT8 variants of a model (each a model directory) and measure size,
    latency, throughput, accuracy and agreement on labeled data.

    Example: modelcycle quantize model/ --data test.csv -o quantized/ --max-accuracy-drop 0.5
    """
    from modelcycle.config import QuantizeConfig  # deferred, as every library import: fast --help
    from modelcycle.data import load_dataset
    from modelcycle.models import load_model
    from modelcycle.quantization import quantize as quantize_model

    config = QuantizeConfig(
        precisions=tuple(p.strip() for p in (precision or "").split(",") if p.strip()),
        calibrate=calibrate,
        max_accuracy_drop=max_accuracy_drop,
        prune_vocab=prune_vocab,
        text_input=text_input,
        threads=threads,
        batch_size=batch_size,
        seed=seed,
    )
    classifier = load_model(model)
    dataset = source.load(data)
    load = partial(load_dataset, text=source.text, encoding=source.encoding, require_label=False)
    calibration = load(calibration_data).texts if calibration_data else None
    table = quantize_model(
        classifier, dataset, out, config, calibration=calibration, source=str(model), progress=say
    )
    typer.echo(table.summary(out))
