"""``modelcycle calibrate``: fit temperature scaling and a threshold, stored with the model."""

from __future__ import annotations

from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    LabeledData,
    ModelPath,
    PositiveLabel,
    ThresholdMetric,
    data_command,
)


@data_command
def calibrate(
    model: ModelPath,
    data: DataPath,
    source: LabeledData,
    temperature: Annotated[
        bool,
        typer.Option(
            "--temperature/--no-temperature", help="Fit temperature scaling (calibration)."
        ),
    ] = True,
    threshold: ThresholdMetric = None,
    positive: PositiveLabel = None,
) -> None:
    """Fit post-processing on validation data and store it in MODEL/model.json.

    Temperature scaling makes the probabilities honest.
    --threshold tunes a 2-label model's decision threshold.
    predict and evaluate apply both (--raw skips them).
    A new run replaces the old one; --no-temperature alone removes it.

    Example: modelcycle calibrate model/ val.csv --threshold f1
    """
    from modelcycle.evaluation import calibrate_model, describe

    dataset = source.load(data)
    fitted = calibrate_model(
        model, dataset, temperature=temperature, threshold=threshold, positive=positive
    )
    typer.echo(f"{describe(fitted)}\nupdated {model / 'model.json'}")
