"""``modelcycle compare``: two models on the same labeled data."""

from __future__ import annotations

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
    say,
)


@handle_errors
def compare(
    model_a: Annotated[Path, typer.Argument(help="Model directory A.", show_default=False)],
    model_b: Annotated[Path, typer.Argument(help="Model directory B.", show_default=False)],
    data: DataPath,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Directory for comparison.json and .html.")
    ],
    text: TextColumn = None,
    label: LabelColumn = None,
    examples: Annotated[
        int, typer.Option(min=0, help="Examples of each kind of disagreement.")
    ] = 10,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Compare two models on the same data: accuracy difference with a paired bootstrap
    interval, McNemar's test, and the rows where only one of them is right.

    Example: modelcycle compare model_a/ model_b/ test.csv -o comparison/
    """
    from modelcycle.config import EvalConfig
    from modelcycle.data import load_dataset
    from modelcycle.evaluation import compare as compare_models
    from modelcycle.models import load_model

    first, second = load_model(model_a), load_model(model_b)
    dataset = load_dataset(data, text=text, label=label, encoding=encoding)
    report = compare_models(
        first,
        second,
        dataset,
        EvalConfig(examples=examples),
        names=(str(model_a), str(model_b)),
        seed=seed,
    )
    report.write(out)
    r = report.result
    for warning in r["warnings"]:
        say(f"warning: {warning}")
    a, b = r["models"]["a"], r["models"]["b"]
    low, high = r["difference"]["ci95"] or (float("nan"), float("nan"))
    verdict = {"a": f"{model_a} is better", "b": f"{model_b} is better"}.get(
        r["better"], "no significant difference"
    )
    typer.echo(
        f"accuracy {a['accuracy']:.4f} vs {b['accuracy']:.4f}: difference "
        f"{r['difference']['accuracy']:+.4f} (95% interval {low:+.4f} to {high:+.4f}), "
        f"McNemar p = {r['mcnemar']['p_value']:.4g}: {verdict}\n"
        f"wrote {out / 'comparison.json'} and {out / 'comparison.html'}"
    )
