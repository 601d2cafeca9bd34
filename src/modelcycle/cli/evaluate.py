"""``modelcycle evaluate``: measure a model on labeled data."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import (
    DataPath,
    Encoding,
    LabelColumn,
    Seed,
    TextColumn,
    handle_errors,
    plural,
    say,
)

ModelPath = Annotated[Path, typer.Argument(help="Model directory written by `modelcycle train`.")]
ThresholdMetric = Annotated[
    str | None,
    typer.Option(
        "--threshold",
        help="Tune the decision threshold of a 2-label model on the validation data for: f1, "
        "accuracy, precision@recall=X (best precision with recall >= X), recall@precision=X.",
    ),
]
PositiveLabel = Annotated[
    str | None,
    typer.Option("--positive", help="The label the threshold is on (default: the second, sorted)."),
]


@handle_errors
def evaluate(
    model: ModelPath,
    data: DataPath,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Directory for metrics.json and evaluation.html.")
    ],
    text: TextColumn = None,
    label: LabelColumn = None,
    slices: Annotated[
        list[str] | None,
        typer.Option("--slice", help="A column of DATA to break accuracy down by (repeatable)."),
    ] = None,
    calibrate: Annotated[
        Path | None,
        typer.Option(
            "--calibrate",
            help="Validation data: fit temperature scaling (and --threshold) on it and report "
            "what they would do; the model is not changed (`modelcycle calibrate` stores them).",
        ),
    ] = None,
    threshold: ThresholdMetric = None,
    positive: PositiveLabel = None,
    examples: Annotated[
        int, typer.Option(min=0, help="Examples per error list (most confident mistakes, ...).")
    ] = 10,
    raw: Annotated[
        bool, typer.Option("--raw", help="Ignore the model's stored calibration and threshold.")
    ] = False,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Evaluate a model on labeled data: metrics.json and evaluation.html.

    The model directory is never changed: --calibrate shows what calibration would do,
    `modelcycle calibrate` stores it.

    Example: modelcycle evaluate model/ test.csv -o eval/ --slice source
    """
    from modelcycle.config import EvalConfig
    from modelcycle.data import load_dataset
    from modelcycle.evaluation import calibrate as fit_postprocess
    from modelcycle.evaluation import describe
    from modelcycle.evaluation import evaluate as evaluate_model
    from modelcycle.models import load_model

    if (threshold is not None or positive is not None) and calibrate is None:
        raise typer.BadParameter(
            "--threshold and --positive tune on validation data: add --calibrate VAL"
        )
    if raw and calibrate is not None:
        raise typer.BadParameter("--raw ignores post-processing; leave out --calibrate with it")
    config = EvalConfig(examples=examples, slices=tuple(slices or ()))
    classifier = load_model(model)
    dataset = load_dataset(data, text=text, label=label, encoding=encoding)
    fitted = None
    if calibrate is not None:
        val = load_dataset(calibrate, text=dataset.text, label=dataset.label, encoding=encoding)
        fitted = fit_postprocess(classifier, val, threshold=threshold, positive=positive)
    report = evaluate_model(
        classifier, dataset, config, model_name=str(model), seed=seed, postprocess=fitted, raw=raw
    )
    report.write(out)
    if fitted is not None:
        store = ["modelcycle", "calibrate", str(model), str(calibrate)]
        store += ["--threshold", threshold] if threshold is not None else []
        store += ["--positive", positive] if positive is not None else []
        typer.echo(
            f"calibrated on {calibrate}: {describe(fitted)}; not stored in {model} "
            f"(`{shlex.join(store)}` stores it)"
        )
    m = report.metrics
    for warning in m["warnings"]:
        say(f"warning: {warning}")
    typer.echo(
        f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  on {plural(m['n'], 'row')}; "
        f"wrote {out / 'metrics.json'} and {out / 'evaluation.html'}"
    )
