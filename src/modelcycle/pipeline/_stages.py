"""The run's stages: what each reads, which config sections it depends on, what it writes.

Each stage reads its inputs from the run directory (never from memory), so that a stage runs
the same whether its upstream stages ran now or were skipped as unchanged. A ``select`` stage
(``train.model = "auto"``) runs between ``split`` and ``train``: it searches the families on
``data/`` and writes ``select/`` (the leaderboard, the study and the pick refitted), and ``train``
then takes the pick as the run's model; the run page shows the leaderboard.

The stages import their libraries when they run: a run whose stages are all unchanged never
loads the training stack, and finishes in well under two seconds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelcycle.config import PipelineConfig

if TYPE_CHECKING:
    from modelcycle.data import Dataset

__all__ = ["AUTO", "Stage", "model_name", "stage_plan"]

AUTO = "auto"
"""``train.model`` that makes the run search the families (``select``) and train the pick."""

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
        Stage("select", _select, ("select",), ("data", "select"), after=("split",)),
        Stage("train", _train, ("model",), ("data", "train"), after=("split",)),
        Stage("train", _train_pick, ("model",), ("data", "train"), after=("select",)),
        Stage("evaluate", _evaluate, ("evaluation",), ("evaluate", "seed"), ("train", "split")),
        Stage("predict", _predict, ("predictions.csv",), (), ("train", "split")),
        Stage("quantize", _quantize, ("quantized",), ("quantize",), ("train", "split")),
    ]
    auto = config.train.model == AUTO
    left_out: dict[Callable[[PipelineConfig, Path], None], bool] = {
        _clean: not cleaned,
        _quantize: not config.quantize.enabled,
        _select: not auto,
        _train: auto,
        _train_pick: not auto,
    }
    return [stage for stage in stages if not left_out.get(stage.body)]


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


def _select(config: PipelineConfig, run_dir: Path) -> None:
    """Search ``select.models`` on the training part (scored on the validation part when the
    split has one) and write the leaderboard and the pick, refitted, to ``select/``."""
    from modelcycle.selection import select

    val = _part(config, run_dir, "val") if config.split.val > 0 else None
    select(_part(config, run_dir, "train"), config.select, out_dir=run_dir / "select", val=val)


def _train_pick(config: PipelineConfig, run_dir: Path) -> None:
    """The model ``select`` picked (a model directory, as ``train`` writes) becomes the run's."""
    shutil.copytree(run_dir / "select" / "model", run_dir / "model")


def model_name(config: PipelineConfig, run_dir: Path) -> str:
    """The trained model's name: the family, or with ``auto`` the leaderboard's pick."""
    if config.train.model != AUTO:
        return config.train.model
    board = json.loads((run_dir / "select" / "leaderboard.json").read_text(encoding="utf-8"))
    return str(board["recommendation"])


def _evaluate(config: PipelineConfig, run_dir: Path) -> None:
    from modelcycle.evaluation import evaluate
    from modelcycle.models import load_model

    report = evaluate(
        load_model(run_dir / "model"),
        _part(config, run_dir, "test"),
        config.evaluate,
        model_name=model_name(config, run_dir),
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
