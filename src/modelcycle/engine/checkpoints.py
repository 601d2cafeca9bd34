"""Checkpoints of the training loop: its state (:class:`TrainState`) with the module's weights,
the optimiser's state and PyTorch's random state, in safetensors beside a JSON description that
records the tensor file's SHA-256 (verified before loading). A checkpoint within an epoch records
the position in it, the optimiser steps done, so that a resumed run goes on from there.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from modelcycle._io import atomic_dir, sha256_file
from modelcycle.engine.optim import TrainingOptimizer
from modelcycle.exceptions import ArtifactError, ConfigError

__all__ = ["TrainState", "resume", "save_checkpoint"]


@dataclass
class TrainState:
    """What the loop carries from epoch to epoch; a checkpoint holds all of it."""

    epoch: int = 0  # epochs done
    step: int = 0  # optimiser steps done in the epoch under way: the position in its data
    seen: int = 0  # examples the epoch under way has trained on
    loss_sum: float = 0.0  # their summed loss
    lr: float | None = None  # the last step's rate: None until a step of the epoch is done
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float | None = None  # of the monitored metric
    best_epoch: int | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0  # epochs since the best
    stopped: bool = False  # early stopping ran out of patience

    def end_epoch(
        self, module: nn.Module, record: dict[str, Any], monitor: str | None, patience: int | None
    ) -> None:
        """Append ``record``; keep the weights if ``record[monitor]`` is the best so far."""
        self.history.append(record)
        self.epoch = record["epoch"]
        self.step, self.seen, self.loss_sum, self.lr = 0, 0, 0.0, None
        if monitor is None:
            return
        if monitor not in record:
            raise ConfigError(
                f"early stopping monitors {monitor!r}, which validation did not return; "
                f"it returned: {', '.join(k for k in record if k.startswith('val_'))}"
            )
        score = record[monitor]
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, record["epoch"], 0
            self.best_weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            self.bad_epochs += 1
            self.stopped = patience is not None and self.bad_epochs >= patience
        record["best_epoch"] = self.best_epoch


_CHECKPOINT = "checkpoint.safetensors"
_CHECKPOINT_JSON = "checkpoint.json"
_CHECKPOINT_KEYS = frozenset(
    (
        "identity",
        "epoch",
        "history",
        "best_score",
        "best_epoch",
        "bad_epochs",
        "stopped",
        "optimizer",
    )
)


def save_checkpoint(
    directory: Path,
    module: nn.Module,
    optimizer: TrainingOptimizer,
    state: TrainState,
    identity: Mapping[str, Any],
) -> None:
    """Write ``directory/epoch-NNNN`` atomically, then drop older epochs."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in module.state_dict().items()}
    optim_tensors, optim_meta = optimizer.state_tensors()
    tensors.update({f"optim.{k}": v.contiguous() for k, v in optim_tensors.items()})
    if state.best_weights is not None:
        tensors.update({f"best.{k}": v.contiguous() for k, v in state.best_weights.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "identity": identity,
        "epoch": state.epoch,
        "position": {"step": state.step, "seen": state.seen, "loss_sum": state.loss_sum},
        "lr": state.lr,
        "history": state.history,
        "best_score": state.best_score,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "stopped": state.stopped,
        "optimizer": optim_meta,
    }
    # mid-epoch checkpoints sort after the last epoch's end and before the next's
    within = f"-step-{state.step:08d}" if state.step else ""
    target = directory / f"epoch-{state.epoch:04d}{within}"
    with atomic_dir(target, replace_if=_CHECKPOINT_JSON) as tmp:
        save_file({k: v.cpu() for k, v in tensors.items()}, str(tmp / _CHECKPOINT))
        # the JSON, written after the tensors, holds their hash: resume verifies it first
        meta["files"] = {_CHECKPOINT: _file_record(tmp / _CHECKPOINT)}
        (tmp / _CHECKPOINT_JSON).write_text(json.dumps(meta, default=str), encoding="utf-8")
    for older in directory.glob("epoch-*"):
        if older != target and older.is_dir():
            shutil.rmtree(older, ignore_errors=True)


def resume(
    directory: Path | None,
    module: nn.Module,
    optimizer: TrainingOptimizer,
    identity: Mapping[str, Any],
) -> TrainState:
    """Load the newest checkpoint in ``directory`` into the module and optimiser; returns the
    loop's state at that epoch."""
    epochs = sorted(directory.glob("epoch-*")) if directory is not None else []
    if not epochs:
        raise ArtifactError(f"no checkpoint to resume from in {directory}; train without --resume")
    latest = epochs[-1]
    meta, tensors = _read_checkpoint(latest)
    if meta["identity"] != identity:
        raise ArtifactError(
            f"{latest}: this checkpoint belongs to a run with other data or settings; "
            "train without --resume, or resume with the same command"
        )
    device = next(module.parameters()).device

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {
            k.removeprefix(prefix): v.to(device) for k, v in tensors.items() if k.startswith(prefix)
        }

    try:
        module.load_state_dict(part("model."))
        optimizer.load_state_tensors(part("optim."), meta["optimizer"])
        torch.set_rng_state(tensors["rng.torch"])
    except (LookupError, ValueError, TypeError, RuntimeError) as exc:
        raise ArtifactError(
            f"{latest}: does not fit this run's model ({type(exc).__name__}: {exc}); "
            f"train without --resume to start over (or delete {latest.parent})"
        ) from exc
    position = meta.get("position", {})  # absent: written at an epoch's end before it existed
    return TrainState(
        epoch=meta["epoch"],
        step=position.get("step", 0),
        seen=position.get("seen", 0),
        loss_sum=position.get("loss_sum", 0.0),
        lr=meta.get("lr"),
        history=meta["history"],
        best_score=meta["best_score"],
        best_epoch=meta["best_epoch"],
        best_weights=part("best.") or None,
        bad_epochs=meta["bad_epochs"],
        stopped=meta["stopped"],
    )


def _file_record(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def _read_checkpoint(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The JSON and the tensors of the checkpoint in ``directory``; the tensors are loaded only
    once their size and SHA-256 match what the JSON recorded. Anything else: an ArtifactError."""
    start_over = f"train without --resume to start over (or delete {directory.parent})"
    meta_path, tensor_path = directory / _CHECKPOINT_JSON, directory / _CHECKPOINT
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        expected = meta["files"][_CHECKPOINT]
        size, digest = int(expected["size"]), str(expected["sha256"])
        missing = _CHECKPOINT_KEYS - set(meta)
    except (OSError, UnicodeDecodeError, ValueError, LookupError, TypeError) as exc:
        raise ArtifactError(
            f"{meta_path}: not a checkpoint description modelcycle can read ({exc!r}); {start_over}"
        ) from exc
    if missing:
        raise ArtifactError(f"{meta_path}: lacks {', '.join(sorted(missing))}; {start_over}")
    try:
        found = _file_record(tensor_path)
    except OSError as exc:
        raise ArtifactError(f"{tensor_path}: cannot be read ({exc}); {start_over}") from exc
    if found["size"] != size:
        raise ArtifactError(
            f"{tensor_path}: {found['size']:,} bytes where {_CHECKPOINT_JSON} recorded {size:,} "
            f"(truncated or changed since it was written); {start_over}"
        )
    if found["sha256"] != digest:
        raise ArtifactError(
            f"{tensor_path}: SHA-256 {found['sha256']} does not match {digest} recorded in "
            f"{_CHECKPOINT_JSON} (damaged or changed since it was written); {start_over}"
        )
    try:
        return meta, load_file(str(tensor_path))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"{tensor_path}: cannot be read ({exc}); {start_over}") from exc
