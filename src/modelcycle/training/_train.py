"""Fit a model by name on a training set, measure it on a validation set, save it.

The training set is a :class:`~modelcycle.data.Dataset` in memory or, for data larger than
memory, a :class:`~modelcycle.data.TextStream` that the families that stream (fasttext, mlp, and
logreg and svm by gradient steps) read block by block; :func:`open_training_data` chooses by
the data's size (or ``stream``)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from modelcycle._io import atomic_dir, write_json, write_text
from modelcycle._wording import plural
from modelcycle.config import SplitConfig, TrainConfig
from modelcycle.data import (
    DEFAULT_SHUFFLE_BUFFER,
    STREAM_THRESHOLD,
    Dataset,
    TextStream,
    load_dataset,
    resolve_shards,
)
from modelcycle.engine.distributed import DistributedContext
from modelcycle.engine.optimizers import COMPARED_OPTIMIZERS
from modelcycle.exceptions import ConfigError, DataError
from modelcycle.models import MODELS, TextClassifier, make_model, model_class, save_model
from modelcycle.split import split_dataset
from modelcycle.training import _plots

STREAM_CHECKPOINT_EVERY = 1000
"""Optimiser steps between checkpoints within an epoch of streamed training (when not set)."""


@dataclass(frozen=True)
class TrainResult:
    """A fitted model with what is known about how it was trained."""

    model: TextClassifier
    config: TrainConfig
    seconds: float
    rows: int
    val_metrics: dict[str, float] = field(default_factory=dict)
    streamed: bool = False  # read as a stream rather than loaded into memory

    @property
    def path(self) -> str | None:
        """How a family that trains otherwise in memory was trained on the stream (the linear
        families: by gradient steps, not their closed-form solver); None: as in memory."""
        path: str | None = getattr(self.model, "training_path_", None)
        return path if self.streamed else None

    @property
    def history(self) -> list[dict[str, Any]]:
        """One record per epoch for gradient-trained models (loss, validation metric, speed)."""
        history: list[dict[str, Any]] = getattr(self.model, "history_", [])
        return history

    def best_epoch(self) -> str | None:
        """``best epoch B of N`` for gradient-trained models; None for the others."""
        if not self.history:
            return None
        best = self.history[-1].get("best_epoch") or len(self.history)
        return f"best epoch {best} of {len(self.history)}"

    def summary(self, out: str | Path) -> str:
        """One line: where the model went, its family, rows, time and validation accuracy."""
        how = "streamed" if self.streamed else "in memory"
        if self.path is not None:  # e.g. a linear family by gradient steps, not its solver
            how += f" by {self.path}"
        line = (
            f"wrote {out} ({self.config.model}, {plural(self.rows, 'row')} {how}, "
            f"{self.seconds:.2f} s to train)"
        )
        if self.val_metrics:
            line += f"; validation accuracy {self.val_metrics['val_accuracy']:.4f}"
        return line

    def save(self, path: str | Path, *, source: str | None = None) -> Path:
        """Write the model directory, with the training config, metrics and training curve."""
        training: dict[str, Any] = {
            "model": self.config.model,
            "params": dict(self.config.params),
            "seed": self.config.seed,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "streamed": self.streamed,
        }
        if self.path is not None:
            training["path"] = self.path
        if source is not None:
            training["data"] = source
        curve = _plots.training_curve_png({self.config.model: self.history})
        files = {"training_curve.png": curve} if curve is not None else {}
        return save_model(
            self.model, path, metrics=self.val_metrics, training=training, files=files
        )


def open_training_data(
    path: str | Path,
    config: TrainConfig,
    *,
    val: str | Path | None = None,
    text: str | None = None,
    label: str | None = None,
    encoding: str = "utf-8",
) -> tuple[Dataset | TextStream, Dataset | None]:
    """The training data at ``path`` (a file, or a folder or glob of shards) and the validation
    data ``val`` (in memory, with the same columns): a stream when ``config.stream`` asks for
    one or, unset, when the data is larger than ``STREAM_THRESHOLD`` bytes and the family
    trains streamed; else a dataset in memory (a folder or glob of shards always streams)."""
    streams = model_class(config.model).streams
    if config.stream and not streams:
        able = ", ".join(n for n in MODELS if model_class(n).streams)
        raise ConfigError(
            f"model {config.model!r} does not train on streamed data; the families that do: "
            f"{able} (or train without --stream, in memory)"
        )
    shards = resolve_shards(path)
    big = sum(s.stat().st_size for s in shards) > STREAM_THRESHOLD or shards != (Path(path),)
    data: Dataset | TextStream
    if config.stream or (config.stream is None and streams and big):
        data = TextStream.open(path, text=text, label=label, encoding=encoding)
    else:
        data = load_dataset(path, text=text, label=label, encoding=encoding)
    if val is None:
        return data, None
    return data, load_dataset(val, text=data.text, label=data.label, encoding=encoding)


def train(
    dataset: Dataset | TextStream,
    config: TrainConfig | None = None,
    *,
    val: Dataset | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    distributed: DistributedContext | None = None,
) -> TrainResult:
    """Fit ``config.model`` on ``dataset`` (or a stream: see :func:`open_training_data`);
    ``val`` drives early stopping and is scored.

    Gradient-trained families write a checkpoint every epoch into ``checkpoint_dir`` (when
    given) and ``resume=True`` continues from the newest one (refused for a family fitted in
    one step). ``progress`` shows a bar (None:
    only on a terminal). ``distributed`` (from torchrun's environment) trains data-parallel.

    Example::

        result = train(load_dataset("train.csv"), TrainConfig(model="fasttext"))
        result.save("model/")
    """
    config = config or TrainConfig()
    streamed = isinstance(dataset, TextStream)
    if isinstance(dataset, Dataset):
        dataset.require_classes(2)
    model = make_model(config.model, config.params, seed=config.seed)
    run = _run_options(model, config, checkpoint_dir, resume, progress, on_epoch_end, distributed)
    if streamed and run is not None and config.checkpoint_every is None:
        run = replace(run, checkpoint_every=STREAM_CHECKPOINT_EVERY)
    start = time.perf_counter()
    val_pair = (val.texts, val.labels) if val is not None else None
    try:
        rows = _fit(model, dataset, config, val_pair, run)
    except DataError as exc:
        if exc.path is not None:
            raise
        # the model saw texts and labels only, not where they came from (labels were checked
        # above, so what it refuses is the texts, e.g. an empty vocabulary)
        column = exc.column or dataset.text
        raise DataError(exc.reason, path=dataset.source, column=column) from exc
    seconds = time.perf_counter() - start
    val_metrics: dict[str, float] = {}
    if val is not None:
        predicted = model.predict(val.texts)
        val_metrics = {
            "val_accuracy": float(accuracy_score(val.labels, predicted)),
            "val_macro_f1": float(f1_score(val.labels, predicted, average="macro")),
        }
    return TrainResult(model, config, seconds, rows, val_metrics, streamed)


def _fit(
    model: TextClassifier,
    dataset: Dataset | TextStream,
    config: TrainConfig,
    val: tuple[list[str], Any] | None,
    run: Any,
) -> int:
    """Fit ``model`` in memory or streamed; returns the number of training rows."""
    if isinstance(dataset, Dataset):
        model.fit(dataset.texts, dataset.labels, val=val, run=run)
        return len(dataset)
    fit_stream = getattr(model, "fit_stream", None)
    if fit_stream is None or not model.streams:  # open_training_data streams only those that can
        raise ConfigError(f"model {config.model!r} does not train on streamed data")
    buffer = config.shuffle_buffer or DEFAULT_SHUFFLE_BUFFER
    fit_stream(dataset, shuffle_buffer=buffer, val=val, run=run)
    return int(model.stream_rows_)


def train_and_save(
    dataset: Dataset | TextStream,
    config: TrainConfig,
    out: str | Path,
    *,
    val: Dataset | None = None,
    resume: bool = False,
    checkpoint_dir: str | Path | None = None,
    keep_checkpoints: bool = False,
    progress: bool | None = None,
    distributed: DistributedContext | None = None,
) -> TrainResult:
    """Train and write the model directory ``out``; checkpoints go to ``out``'s sibling
    ``<name>.checkpoints/`` (or ``checkpoint_dir``) and are removed once the model is saved,
    unless ``keep_checkpoints``. ``resume`` continues a killed run from its newest checkpoint.
    Under torchrun (``distributed``), only rank 0 writes."""
    out = Path(out)
    checkpoints = (
        Path(checkpoint_dir) if checkpoint_dir else out.with_name(out.name + ".checkpoints")
    )
    result = train(
        dataset,
        config,
        val=val,
        checkpoint_dir=checkpoints,
        resume=resume,
        progress=progress,
        distributed=distributed,
    )
    if distributed is not None and not distributed.is_main:
        return result
    result.save(out, source=dataset.source)
    if not keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return result


def _run_options(
    model: TextClassifier,
    config: TrainConfig,
    checkpoint_dir: str | Path | None,
    resume: bool,
    progress: bool | None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None,
    distributed: DistributedContext | None,
) -> Any:
    """RunOptions for the training loop; None for a model fitted in closed form (no loop)."""
    if model.get_params().get("optimizer") is None:
        if resume:
            raise ConfigError(
                f"--resume continues gradient training; model {config.model!r} without "
                "--optimizer is fitted in one step and has nothing to resume"
            )
        return None
    # deferred for start-up time: the loop imports PyTorch, which the closed-form path never needs
    from modelcycle.engine.loop import RunOptions

    return RunOptions(
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        resume=resume,
        progress=progress,
        device=config.device,
        threads=config.threads,
        on_epoch_end=on_epoch_end,
        distributed=distributed,
        checkpoint_every=config.checkpoint_every,
    )


@dataclass(frozen=True)
class OptimizerComparison:
    """The same model trained with each optimiser: one row per optimiser."""

    model: str
    rows: list[dict[str, Any]]
    histories: dict[str, list[dict[str, Any]]]

    def best(self) -> str:
        """The optimiser with the best validation accuracy (ties: the faster)."""
        return max(self.rows, key=lambda r: (r["val_accuracy"], -r["seconds"]))["optimizer"]

    def to_markdown(self) -> str:
        lines = [
            f"# Optimisers compared: {self.model}",
            "",
            "| optimizer | lr | val accuracy | val macro-F1 | best epoch | epochs run | seconds |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['optimizer']} | {r['lr']:.4g} | {r['val_accuracy']:.4f} | "
                f"{r['val_macro_f1']:.4f} | {r['best_epoch']} | {r['epochs_run']} | "
                f"{r['seconds']:.2f} |"
            )
        lines += ["", f"Best: **{self.best()}** (validation accuracy, then time)."]
        return "\n".join(lines) + "\n"

    def summary(self, out_dir: str | Path) -> str:
        """The table in Markdown and where it was written."""
        return self.to_markdown() + f"\nwrote {out_dir}"

    def write(self, out_dir: str | Path, models: dict[str, TrainResult], source: str) -> Path:
        """``comparison.json``, ``comparison.md``, ``comparison.png`` and a model per optimiser."""
        out_dir = Path(out_dir)
        with atomic_dir(out_dir, replace_if="comparison.json") as tmp:
            for name, result in models.items():
                result.save(tmp / name, source=source)
            write_json(
                tmp / "comparison.json",
                {"model": self.model, "best": self.best(), "rows": self.rows},
            )
            write_text(tmp / "comparison.md", self.to_markdown())
            curve = _plots.training_curve_png(self.histories)
            if curve is not None:
                (tmp / "comparison.png").write_bytes(curve)
        return out_dir


def compare_optimizers(
    dataset: Dataset | TextStream,
    config: TrainConfig,
    val: Dataset | None = None,
    *,
    progress: bool | None = None,
) -> tuple[OptimizerComparison, dict[str, TrainResult]]:
    """Train ``config.model`` once per optimiser (sgd, adam, rmsprop, adagrad) and compare them on
    ``val`` (default: a stratified 10% of ``dataset`` held out): accuracy, epochs to the best,
    time."""
    if isinstance(dataset, TextStream):
        raise ConfigError("--compare-optimizers trains in memory; leave out --stream")
    if val is None:
        parts = split_dataset(dataset, SplitConfig(test=0.1, val=0.0, seed=config.seed))
        dataset, val = parts.train, parts.test
    rows, histories, results = [], {}, {}
    for name in COMPARED_OPTIMIZERS:
        params = {**config.params, "optimizer": name}
        result = train(dataset, replace(config, params=params), val=val, progress=progress)
        history = result.history
        best_epoch = (
            max(history, key=lambda h: h.get("val_accuracy", 0.0))["epoch"] if history else None
        )
        rows.append(
            {
                "optimizer": name,
                "lr": history[0]["base_lr"] if history else float("nan"),
                "val_accuracy": result.val_metrics["val_accuracy"],
                "val_macro_f1": result.val_metrics["val_macro_f1"],
                "best_epoch": best_epoch,
                "epochs_run": len(history),
                "seconds": round(result.seconds, 3),
            }
        )
        histories[name] = history
        results[name] = result
    return OptimizerComparison(config.model, rows, histories), results
