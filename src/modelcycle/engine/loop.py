"""The training loop: one readable function (:func:`run_loop`) for every gradient-trained family,
with its state in one dataclass (:class:`TrainState`).

Per epoch: shuffle (seeded by epoch, so a resumed run shuffles the same way), mini-batches
(cut by the data itself when it proposes an order, e.g. texts of similar length together),
forward, loss, backward — ``accumulate`` mini-batches per step — gradient clipping, optimiser
step with the LR schedule; then validation, early stopping with patience on the metric named by
``monitor`` (the best epoch's weights are restored at the end), and a checkpoint (safetensors +
JSON that records the tensor file's SHA-256, verified before loading) from which ``resume``
continues a killed run exactly.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from modelcycle._io import atomic_dir, sha256_file
from modelcycle.engine.distributed import DistributedContext, process_group, replicate
from modelcycle.engine.optim import TrainingOptimizer
from modelcycle.engine.optimizers import OptimizerSettings
from modelcycle.engine.progress import EpochProgress
from modelcycle.exceptions import ArtifactError, ConfigError

__all__ = [
    "LoopSettings",
    "RunOptions",
    "TrainState",
    "TrainingData",
    "resolve_device",
    "run_loop",
]


@dataclass(frozen=True)
class LoopSettings:
    """The hyper-parameters of a training run (they are part of the model's parameters)."""

    optimizer: OptimizerSettings
    epochs: int = 5
    batch_size: int = 64
    patience: int | None = None  # epochs without improvement before stopping; None: never
    clip_grad: float | None = None
    class_weight: str | tuple[float, ...] | None = None  # "balanced", or a weight per class
    loss: str = "cross_entropy"  # or "hinge" (multi-class margin loss, a linear SVM's)
    seed: int = 0
    accumulate: int = 1  # mini-batches whose gradients add up to one optimiser step

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.accumulate < 1:
            raise ConfigError(
                "epochs, batch_size and accumulate must be >= 1, got "
                f"{self.epochs}, {self.batch_size}, {self.accumulate}"
            )
        if self.loss not in ("cross_entropy", "hinge"):
            raise ConfigError(f"loss must be 'cross_entropy' or 'hinge', got {self.loss!r}")
        if isinstance(self.class_weight, str) and self.class_weight != "balanced":
            raise ConfigError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")


@dataclass(frozen=True)
class RunOptions:
    """How a run is carried out, not what is learned: checkpoints, progress, device, threads."""

    checkpoint_dir: Path | None = None
    resume: bool = False
    progress: bool | None = None  # None: a bar only on a terminal
    device: str = "auto"
    threads: int | None = None
    on_epoch_end: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)
    distributed: DistributedContext | None = None  # set under torchrun


class TrainingData(Protocol):
    """Training examples that can be cut into batches of tensors.

    Data may also define ``batches(order, batch_size) -> list[np.ndarray]``: the epoch's
    mini-batches from its shuffled ``order`` (as many as consecutive cuts would give), e.g.
    texts of similar length together so that padding is short. Without it, the shuffled rows
    are cut in order.
    """

    targets: np.ndarray  # class index per example

    def __len__(self) -> int: ...

    def batch(self, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
        """The module's inputs for ``rows``."""
        ...


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {name!r}; valid devices are: auto, cpu, cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def run_loop(
    module: nn.Module,
    data: TrainingData,
    settings: LoopSettings,
    options: RunOptions | None = None,
    *,
    n_classes: int,
    validate: Callable[[nn.Module], dict[str, float]] | None = None,
    monitor: str = "val_accuracy",
    fingerprint: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Train ``module`` in place; returns the history, one record per epoch.

    ``validate(module)`` returns validation metrics; ``monitor`` names the one (higher is
    better) that picks the best epoch and drives early stopping. ``fingerprint`` identifies the
    run (data and settings) so that ``resume`` refuses a checkpoint of another run.
    """
    options = options or RunOptions()
    cluster = options.distributed  # set under torchrun: each process trains on its shares
    main = cluster is None or cluster.is_main  # rank 0 shows progress and writes checkpoints
    device = _place(module, settings, options)
    if cluster is not None:
        _check_shares(data, settings, cluster)
    batches_per_epoch = -(-len(data) // settings.batch_size)
    steps_per_epoch = -(-batches_per_epoch // settings.accumulate)
    weight = _class_weight(data.targets, n_classes, settings.class_weight, device)
    targets = torch.as_tensor(data.targets, dtype=torch.long)
    identity = json.loads(json.dumps({**asdict(settings), **(fingerprint or {})}, default=str))

    with _data_parallel(module, cluster, device) as replica:
        optimizer = TrainingOptimizer(
            replica, settings.optimizer, steps_per_epoch * settings.epochs
        )
        state = TrainState()
        if options.resume:
            state = _resume(options.checkpoint_dir, module, optimizer, identity)
        bar = EpochProgress(settings.epochs, len(data), enabled=options.progress if main else False)
        with bar:
            for epoch in range(state.epoch, settings.epochs):
                if state.stopped:
                    break
                bar.start(epoch)
                replica.train()
                start, seen, loss_sum = time.perf_counter(), 0, 0.0
                lr: float | None = None  # the last step's: stays None if every batch is skipped
                for step in _steps(data, settings, epoch, cluster):
                    step_rows = sum(len(rows) for rows in step)
                    optimizer.zero_grad()
                    for rows in step:  # ``accumulate`` mini-batches, one optimiser step
                        with _autocast(device):
                            logits = replica(*data.batch(rows, device))  # (rows, n_classes)
                        loss = _loss(
                            settings.loss, logits.float(), targets[rows].to(device), weight
                        )
                        # each example weighs the same in the step, whatever its mini-batch
                        (loss * (len(rows) / step_rows)).backward()
                        seen += len(rows)
                        loss_sum += float(loss.detach()) * len(rows)
                    if settings.clip_grad:
                        _clip_gradients(replica, settings.clip_grad)
                    lr = optimizer.step()
                    speed = seen / (time.perf_counter() - start)
                    bar.advance(step_rows, loss=loss_sum / seen, speed=speed)
                record = _epoch_record(epoch, seen, loss_sum, lr, settings.optimizer.lr, start)
                if validate is not None:
                    module.eval()
                    with torch.no_grad():
                        record.update(validate(module))
                state.end_epoch(module, record, monitor if validate else None, settings.patience)
                bar.finish(record)
                if main and options.checkpoint_dir is not None:
                    _save_checkpoint(options.checkpoint_dir, module, optimizer, state, identity)
                if main and options.on_epoch_end is not None:
                    options.on_epoch_end(record)
        del replica  # before the process group ends: see _data_parallel
    if state.best_weights is not None:
        module.load_state_dict(state.best_weights)
    module.eval()
    return state.history


@dataclass
class TrainState:
    """What the loop carries from epoch to epoch; a checkpoint holds all of it."""

    epoch: int = 0  # epochs done
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


def _place(module: nn.Module, settings: LoopSettings, options: RunOptions) -> torch.device:
    """Seed PyTorch, set its threads, move ``module`` to its device; returns the device."""
    device = resolve_device(options.device)
    if options.distributed is not None and device.type == "cuda":
        device = torch.device("cuda", options.distributed.local_rank)
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(settings.seed)
    module.to(device)
    return device


@contextmanager
def _data_parallel(
    module: nn.Module, cluster: DistributedContext | None, device: torch.device
) -> Iterator[nn.Module]:
    """``module`` itself when alone; under torchrun, its data-parallel wrapper, inside the job's
    process group. The caller drops its reference before leaving: freed after the group is
    destroyed, the wrapper would drop the last reference and join gloo's thread while holding the
    GIL, which that thread may need (a hang at the end of training, seen one run in ~20)."""
    if cluster is None:
        yield module
        return
    with process_group(cluster, device):
        replica = replicate(module, cluster, device)
        try:
            yield replica
        finally:
            del replica


def _steps(
    data: TrainingData, settings: LoopSettings, epoch: int, cluster: DistributedContext | None
) -> Iterator[list[np.ndarray]]:
    """The epoch's optimiser steps, each ``accumulate`` mini-batches of rows, shuffled with a
    seed of the epoch (a resumed run shuffles the same way); under torchrun, this process's
    shares, skipping a mini-batch with fewer rows than processes."""
    order = np.random.default_rng([settings.seed, epoch]).permutation(len(data))
    batches = _batches(data, order, settings.batch_size)
    for first in range(0, len(batches), settings.accumulate):
        step = batches[first : first + settings.accumulate]
        if cluster is not None:  # every process needs a share of each batch
            step = [cluster.shard(b) for b in step if len(b) >= cluster.world_size]
        if step:
            yield step


def _epoch_record(
    epoch: int, seen: int, loss_sum: float, lr: float | None, base_lr: float, start: float
) -> dict[str, Any]:
    """The history record of an epoch that saw ``seen`` examples in steps, the last at ``lr``."""
    if not seen or lr is None:  # under torchrun, a batch with fewer rows than processes is skipped
        raise ConfigError(
            f"epoch {epoch + 1} trained on no rows: every mini-batch had fewer rows than there "
            "are processes; use fewer processes or a larger --batch-size"
        )
    seconds = time.perf_counter() - start
    return {
        "epoch": epoch + 1,
        "loss": loss_sum / seen,
        "lr": lr,
        "base_lr": base_lr,
        "seconds": seconds,
        "examples_per_s": seen / seconds,
    }


def _check_shares(data: TrainingData, settings: LoopSettings, cluster: DistributedContext) -> None:
    """Every process needs a share of each step's batches: refuse batches smaller than that."""
    smallest = min(settings.batch_size, len(data))
    if smallest < cluster.world_size:
        raise ConfigError(
            f"a mini-batch of {smallest} rows (batch size {settings.batch_size}, {len(data)} rows) "
            f"cannot be shared among {cluster.world_size} processes, so no step would train; use "
            f"--batch-size {cluster.world_size} or more, or fewer processes"
        )


def _batches(data: TrainingData, order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """The epoch's mini-batches: the data's own (``batches``), or ``order`` cut in turn."""
    propose = getattr(data, "batches", None)
    if propose is not None:
        return [np.ascontiguousarray(rows, dtype=np.int64) for rows in propose(order, batch_size)]
    return [order[first : first + batch_size] for first in range(0, len(order), batch_size)]


def _autocast(device: torch.device) -> Any:
    """bf16 autocast on a CUDA GPU that supports it; nothing on the CPU."""
    enabled = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def _loss(
    kind: str, logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None
) -> torch.Tensor:
    if kind == "hinge":
        return F.multi_margin_loss(logits, targets, weight=weight)
    return F.cross_entropy(logits, targets, weight=weight)


def _class_weight(
    targets: np.ndarray, n_classes: int, mode: str | tuple[float, ...] | None, device: torch.device
) -> torch.Tensor | None:
    if mode is None:
        return None
    if mode == "balanced":
        counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
        weights = len(targets) / (n_classes * np.maximum(counts, 1.0))
    else:
        weights = np.asarray(mode, dtype=np.float64)
    return torch.tensor(weights, dtype=torch.float32, device=device)


def _clip_gradients(module: nn.Module, max_norm: float) -> None:
    """Clip the global gradient norm; sparse gradients count by their (summed) rows. Dense
    gradients go through PyTorch's foreach kernels (a few kernels a step, not two or three per
    parameter), and nothing waits for the device."""
    dense: list[nn.Parameter] = []
    dense_grads: list[torch.Tensor] = []
    sparse: list[torch.Tensor] = []
    for param in module.parameters():
        grad = param.grad
        if grad is not None and grad.is_sparse:
            sparse.append(grad)
        elif grad is not None:
            dense.append(param)
            dense_grads.append(grad)
    if not dense and not sparse:
        return
    norms = [g.coalesce()._values().float().norm() for g in sparse]
    if dense:
        norms.append(nn.utils.get_total_norm(dense_grads))
    total = torch.linalg.vector_norm(torch.stack(norms))
    if dense:
        nn.utils.clip_grads_with_norm_(dense, max_norm, total)
    if sparse:
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for grad in sparse:
            grad.mul_(scale)


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


def _save_checkpoint(
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
        "history": state.history,
        "best_score": state.best_score,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "stopped": state.stopped,
        "optimizer": optim_meta,
    }
    target = directory / f"epoch-{state.epoch:04d}"
    with atomic_dir(target, replace_if=_CHECKPOINT_JSON) as tmp:
        save_file({k: v.cpu() for k, v in tensors.items()}, str(tmp / _CHECKPOINT))
        # the JSON, written after the tensors, holds their hash: resume verifies it first
        meta["files"] = {_CHECKPOINT: _file_record(tmp / _CHECKPOINT)}
        (tmp / _CHECKPOINT_JSON).write_text(json.dumps(meta, default=str), encoding="utf-8")
    for older in directory.glob("epoch-*"):
        if older != target and older.is_dir():
            shutil.rmtree(older, ignore_errors=True)


def _resume(
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
    return TrainState(
        epoch=meta["epoch"],
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
