"""The run's stages: what each reads, which config sections it depends on, what it writes.

Each stage reads its inputs from the run directory (never from memory), so that a stage runs
the same whether its upstream stages ran now or were skipped as unchanged. A ``select`` stage
(``select/leaderboard.json`` and ``leaderboard.html``) fits between ``split`` and ``train``: it
reads ``data/`` and names the family that ``train`` then fits; the run page shows its
leaderboard whenever ``select/leaderboard.json`` exists.

The stages import their libraries when they run: a run whose stages are all unchanged never
loads the training stack, and finishes in well under two seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelcycle.config import PipelineConfig

if TYPE_CHECKING:
    from modelcycle.data import Dataset

__all__ = ["Stage", "stage_plan"]

CLEANED_FILE = "clean/cleaned.parquet"


@dataclass(frozen=True)
class Stage:
    """One step of the run: ``body(config, run_dir)`` writes ``outputs`` (paths in the run
    directory) from the data file (``reads_data``) and the outputs of the stages in ``after``."""

    name: str
    body: Callable[[PipelineConfig, Path], None]
    outputs: tuple[str, ...]
    sections: tuple[str, ...]
    after: tuple[str, ...] = ()
    reads_data: bool = False


def stage_plan(config: PipelineConfig) -> list[Stage]:
    """The stages ``config`` runs, in order (``clean`` and ``quantize`` as configured)."""
    cleaned = config.clean.enabled
    stages = [
        Stage("eda", _eda, ("eda",), ("data", "seed"), reads_data=True),
        Stage("clean", _clean, ("clean",), ("data", "clean"), reads_data=True),
        Stage(
            "split",
            _split,
            ("data",),
            ("data", "split"),
            after=("clean",) if cleaned else (),
            reads_data=not cleaned,
        ),
        Stage("train", _train, ("model",), ("data", "train"), after=("split",)),
        Stage("evaluate", _evaluate, ("evaluation",), ("evaluate", "seed"), ("train", "split")),
        Stage("predict", _predict, ("predictions.csv",), (), ("train", "split")),
        Stage("quantize", _quantize, ("quantized",), ("quantize",), ("train", "split")),
    ]
    skipped = {"clean": not cleaned, "quantize": not config.quantize.enabled}
    return [stage for stage in stages if not skipped.get(stage.name)]


def _raw_data(config: PipelineConfig) -> Dataset:
    from modelcycle.data import load_dataset

    return load_dataset(
        config.data.path,
        text=config.data.text,
        label=config.data.label,
        encoding=config.data.encoding,
        drop_labels=config.data.drop_labels,
        allow_missing_labels=config.clean.enabled,
    )


def _part(config: PipelineConfig, run_dir: Path, name: str) -> Dataset:
    """One part of the split (``train``, ``val`` or ``test``) as the split stage wrote it."""
    from modelcycle.data import load_dataset

    path = run_dir / "data" / f"{name}.csv"
    return load_dataset(path, text=config.data.text, label=config.data.label)


def _eda(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.eda import profile

    profile(_raw_data(config), seed=config.seed).write(run_dir / "eda")


def _clean(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.cleaning import clean
    from modelcycle.data import write_table

    cleaned, report = clean(_raw_data(config), config.clean)
    write_table(cleaned.frame, run_dir / CLEANED_FILE)
    report.write(run_dir / "clean")


def _split(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.data import load_dataset
    from modelcycle.split import split_dataset, write_splits

    if config.clean.enabled:
        data = load_dataset(run_dir / CLEANED_FILE, text=config.data.text, label=config.data.label)
    else:
        data = _raw_data(config)
    data.require_classes(2)
    write_splits(split_dataset(data, config.split), run_dir / "data", config.split)


def _train(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.training import train

    val = _part(config, run_dir, "val") if config.split.val > 0 else None
    trained = train(_part(config, run_dir, "train"), config.train, val=val)
    trained.save(run_dir / "model", source=config.data.path)


def _evaluate(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.evaluation import evaluate
    from modelcycle.models import load_model

    report = evaluate(
        load_model(run_dir / "model"),
        _part(config, run_dir, "test"),
        config.evaluate,
        model_name=config.train.model,
        data_name=f"the test part of {config.data.path}",
        seed=config.seed,
    )
    report.write(run_dir / "evaluation")


def _predict(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.models import load_model
    from modelcycle.prediction import predict_dataset

    test = _part(config, run_dir, "test")
    predict_dataset(load_model(run_dir / "model"), test, run_dir / "predictions.csv")


def _quantize(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.models import load_model
    from modelcycle.quantization import quantize

    test = _part(config, run_dir, "test")
    quantize(load_model(run_dir / "model"), test, run_dir / "quantized", config.quantize)
