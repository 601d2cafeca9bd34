"""``modelcycle evaluate``: measure a model on labeled data."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    LabeledData,
    ModelPath,
    PositiveLabel,
    Raw,
    ReportDir,
    Seed,
    ThresholdMetric,
    Track,
    data_command,
    say,
    warn,
)
from modelcycle.tracking import track as log_to_mlflow  # light: MLflow loads when used

if TYPE_CHECKING:
    from modelcycle.postprocess import Postprocess

Slices = Annotated[
    list[str] | None,
    typer.Option("--slice", help="A column of DATA to break accuracy down by (repeatable)."),
]
CalibrationData = Annotated[
    Path | None,
    typer.Option(
        "--calibrate",
        help="Validation data: fit temperature scaling (and --threshold) on it and report "
        "what they would do; the model is not changed (`modelcycle calibrate` stores them).",
    ),
]
Examples = Annotated[
    int, typer.Option(min=0, help="Examples per error list (most confident mistakes, ...).")
]


@data_command
def evaluate(
    model: ModelPath,
    data: DataPath,
    out: ReportDir,
    source: LabeledData,
    slices: Slices = None,
    calibrate: CalibrationData = None,
    threshold: ThresholdMetric = None,
    positive: PositiveLabel = None,
    examples: Examples = 10,
    raw: Raw = False,
    seed: Seed = 42,
    track: Track = None,
) -> None:
    """Evaluate a model on labeled data: metrics.json and evaluation.html.

    The model directory is never changed: --calibrate shows what calibration would do,
    `modelcycle calibrate` stores it.

    Example: modelcycle evaluate model/ test.csv -o eval/ --slice source
    """
    from modelcycle.config import EvalConfig  # deferred, as every library import: fast --help
    from modelcycle.evaluation import calibrate as fit_postprocess
    from modelcycle.evaluation import evaluate as evaluate_model
    from modelcycle.models import load_model

    _check_calibration_flags(calibrate, threshold, positive, raw)
    config = EvalConfig(examples=examples, slices=tuple(slices or ()))
    classifier = load_model(model)
    dataset, val = source.load_pair(data, calibrate)
    fitted = None
    if val is not None:
        fitted = fit_postprocess(classifier, val, threshold=threshold, positive=positive)
    report = evaluate_model(
        classifier, dataset, config, model_name=str(model), seed=seed, postprocess=fitted, raw=raw
    )
    report.write(out)
    if fitted is not None:
        typer.echo(_calibrated(fitted, model, calibrate, threshold, positive))
    warn(report.metrics["warnings"])
    typer.echo(report.summary(out))
    say(log_to_mlflow(track, "evaluate", out, {"model": model, "data": data, "evaluate": config}))


def _check_calibration_flags(
    calibrate: Path | None, threshold: str | None, positive: str | None, raw: bool
) -> None:
    """--threshold and --positive need --calibrate; --raw excludes it."""
    if (threshold is not None or positive is not None) and calibrate is None:
        raise typer.BadParameter(
            "--threshold and --positive tune on validation data: add --calibrate VAL"
        )
    if raw and calibrate is not None:
        raise typer.BadParameter("--raw ignores post-processing; leave out --calibrate with it")


def _calibrated(
    fitted: Postprocess, model: Path, data: Path | None, threshold: str | None, positive: str | None
) -> str:
    """What calibrating on ``data`` would do, and the ``modelcycle calibrate`` line storing it."""
    from modelcycle.evaluation import describe  # deferred: `--help` stays instant

    store = ["modelcycle", "calibrate", str(model), str(data)]
    store += ["--threshold", threshold] if threshold is not None else []
    store += ["--positive", positive] if positive is not None else []
    return (
        f"calibrated on {data}: {describe(fitted)}; not stored in {model} "
        f"(`{shlex.join(store)}` stores it)"
    )
