"""The training loop: one readable function (:func:`run_loop`) for every gradient-trained family,
with its state in one dataclass (:class:`TrainState`).

Per epoch: shuffle (seeded by epoch, so a resumed run shuffles the same way), mini-batches
(cut by the data itself when it proposes an order, e.g. texts of similar length together),
forward, loss, backward — ``accumulate`` mini-batches per step — gradient clipping, optimiser
step with the LR schedule; then validation, early stopping with patience on the metric named by
``monitor`` (the best epoch's weights are restored at the end), and a checkpoint (safetensors +
JSON that records the tensor file's SHA-256, verified before loading) from which ``resume``
continues a killed run exactly (:mod:`.checkpoints`). ``checkpoint_every`` also checkpoints
within an epoch, with the position in it (the optimiser steps done), so a resumed run skips
those steps and goes on as if never stopped.

Data larger than memory (:class:`StreamedData`) cuts its own mini-batches from a stream: the
loop asks it for an epoch's batches after the steps already done and never indexes it.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from modelcycle.engine.checkpoints import TrainState, resume, save_checkpoint
from modelcycle.engine.distributed import DistributedContext, process_group, replicate
from modelcycle.engine.optim import TrainingOptimizer
from modelcycle.engine.optimizers import OptimizerSettings
from modelcycle.engine.progress import EpochProgress
from modelcycle.exceptions import ConfigError

__all__ = [
    "LoopSettings",
    "RunOptions",
    "StreamedData",
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
    checkpoint_every: int | None = None  # optimiser steps between checkpoints within an epoch

    def __post_init__(self) -> None:
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ConfigError(
                f"checkpoint_every must be >= 1 step (or unset), got {self.checkpoint_every}"
            )


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


Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor]
"""A mini-batch: the module's inputs and the class index of each row."""


@runtime_checkable
class StreamedData(Protocol):
    """Training examples read as a stream, too many to hold: they cut their own mini-batches
    (:meth:`epoch_batches`); under torchrun each process's stream reads its own rows."""

    class_counts: np.ndarray  # examples per class, all processes together (balanced weights)
    batches_per_epoch: int  # mini-batches an epoch, the same on every process

    def __len__(self) -> int:
        """The rows an epoch trains on (this process's)."""
        ...

    def epoch_batches(self, epoch: int, skip: int, device: torch.device) -> Iterator[Batch]:
        """The mini-batches of ``epoch`` after its first ``skip`` (a resumed epoch)."""
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
    data: TrainingData | StreamedData,
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
    batches_per_epoch, counts = _measure(data, settings, cluster, n_classes)
    steps_per_epoch = -(-batches_per_epoch // settings.accumulate)
    weight = _class_weight(counts, settings.class_weight, device)
    identity = json.loads(json.dumps({**asdict(settings), **(fingerprint or {})}, default=str))

    with _data_parallel(module, cluster, device) as replica:
        optimizer = TrainingOptimizer(
            replica, settings.optimizer, steps_per_epoch * settings.epochs
        )
        state = TrainState()
        if options.resume:
            state = resume(options.checkpoint_dir, module, optimizer, identity)
        bar = EpochProgress(settings.epochs, len(data), enabled=options.progress if main else False)
        with bar:
            for epoch in range(state.epoch, settings.epochs):
                if state.stopped:
                    break
                bar.start(epoch)
                replica.train()
                start, done = time.perf_counter(), state.seen  # ``done``: before a resume
                for step in _steps(data, settings, epoch, cluster, device, skip=state.step):
                    step_rows = sum(len(targets) for _, targets in step)
                    optimizer.zero_grad()
                    for inputs, targets in step:  # ``accumulate`` mini-batches, one step
                        with _autocast(device):
                            logits = replica(*inputs)  # (rows, n_classes)
                        loss = _loss(settings.loss, logits.float(), targets, weight)
                        # each example weighs the same in the step, whatever its mini-batch
                        (loss * (len(targets) / step_rows)).backward()
                        state.seen += len(targets)
                        state.loss_sum += float(loss.detach()) * len(targets)
                    if settings.clip_grad:
                        _clip_gradients(replica, settings.clip_grad)
                    state.lr = optimizer.step()
                    state.step += 1
                    speed = (state.seen - done) / (time.perf_counter() - start)
                    bar.advance(step_rows, loss=state.loss_sum / state.seen, speed=speed)
                    if main and options.checkpoint_dir and _checkpoint_due(options, state.step):
                        save_checkpoint(options.checkpoint_dir, module, optimizer, state, identity)
                record = _epoch_record(epoch, state, settings.optimizer.lr, start, done)
                if validate is not None:
                    module.eval()
                    with torch.no_grad():
                        record.update(validate(module))
                state.end_epoch(module, record, monitor if validate else None, settings.patience)
                bar.finish(record)
                if main and options.checkpoint_dir is not None:
                    save_checkpoint(options.checkpoint_dir, module, optimizer, state, identity)
                if main and options.on_epoch_end is not None:
                    options.on_epoch_end(record)
        del replica  # before the process group ends: see _data_parallel
    if state.best_weights is not None:
        module.load_state_dict(state.best_weights)
    module.eval()
    return state.history


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
    data: TrainingData | StreamedData,
    settings: LoopSettings,
    epoch: int,
    cluster: DistributedContext | None,
    device: torch.device,
    skip: int,
) -> Iterator[list[Batch]]:
    """The epoch's optimiser steps after the first ``skip``, each ``accumulate`` mini-batches,
    shuffled with a seed of the epoch (a resumed run shuffles the same way); under torchrun,
    this process's shares, skipping a mini-batch with fewer rows than processes."""
    if isinstance(data, StreamedData):  # the stream shuffles, and reads this process's rows
        batches = data.epoch_batches(epoch, skip * settings.accumulate, device)
        while step := list(itertools.islice(batches, settings.accumulate)):
            yield step
        return
    targets = torch.as_tensor(data.targets, dtype=torch.long)
    order = np.random.default_rng([settings.seed, epoch]).permutation(len(data))
    batches_of_rows = _batches(data, order, settings.batch_size)
    steps = (
        batches_of_rows[first : first + settings.accumulate]
        for first in range(0, len(batches_of_rows), settings.accumulate)
    )
    if cluster is not None:  # every process needs a share of each batch
        steps = ([cluster.shard(b) for b in s if len(b) >= cluster.world_size] for s in steps)
    for rows_of_step in itertools.islice((s for s in steps if s), skip, None):
        yield [(data.batch(rows, device), targets[rows].to(device)) for rows in rows_of_step]


def _measure(
    data: TrainingData | StreamedData,
    settings: LoopSettings,
    cluster: DistributedContext | None,
    n_classes: int,
) -> tuple[int, np.ndarray]:
    """``(mini-batches an epoch, examples per class)``; refuses batches too small to share."""
    if isinstance(data, StreamedData):
        return data.batches_per_epoch, data.class_counts
    if cluster is not None:
        _check_shares(data, settings, cluster)
    return -(-len(data) // settings.batch_size), np.bincount(data.targets, minlength=n_classes)


def _checkpoint_due(options: RunOptions, step: int) -> bool:
    """Whether a checkpoint within the epoch is due after ``step`` steps of it."""
    every = options.checkpoint_every
    return every is not None and step % every == 0


def _epoch_record(
    epoch: int, state: TrainState, base_lr: float, start: float, done: int
) -> dict[str, Any]:
    """The history record of an epoch: ``state`` holds its examples, loss and last rate;
    ``done`` examples were seen before this process started it (a resumed epoch)."""
    seen, loss_sum, lr = state.seen, state.loss_sum, state.lr
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
        "examples_per_s": (seen - done) / seconds,
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
    counts: np.ndarray, mode: str | tuple[float, ...] | None, device: torch.device
) -> torch.Tensor | None:
    """The loss weight of each class, from the examples per class (``counts``)."""
    if mode is None:
        return None
    if mode == "balanced":
        counts = counts.astype(np.float64)
        weights = counts.sum() / (len(counts) * np.maximum(counts, 1.0))
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
