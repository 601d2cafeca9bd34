"""Data-parallel training across processes, GPUs and machines with PyTorch's own engine.

The same ``modelcycle train`` command runs alone or under ``torchrun``::

    torchrun --nproc_per_node=4 -m modelcycle train data.csv --model fasttext -o model/
    torchrun --nnodes=2 --node_rank=0 --master_addr=host0 --nproc_per_node=8 -m modelcycle train ...

torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; every process then trains a
``DistributedDataParallel`` copy of the model on its share of each batch (NCCL on GPUs, gloo on
CPUs), gradients are averaged, and only rank 0 shows progress, writes checkpoints and saves the
model. NCCL cannot all-reduce sparse gradients, so on GPUs embedding tables use dense ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # PyTorch is imported where it is used: reading the environment needs none
    import torch
    from torch import nn

__all__ = ["DistributedContext", "from_environment", "process_group", "replicate"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a torchrun job."""

    rank: int
    local_rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        """Rank 0 reports, checkpoints and saves."""
        return self.rank == 0

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This process's share of a batch (every process gets one, in turn)."""
        return rows[self.rank :: self.world_size]


def from_environment(environ: Mapping[str, str]) -> DistributedContext | None:
    """The context torchrun describes in ``environ``; None when running alone."""
    world_size = int(environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return None
    return DistributedContext(
        rank=int(environ["RANK"]), local_rank=int(environ["LOCAL_RANK"]), world_size=world_size
    )


@contextmanager
def process_group(context: DistributedContext, device: torch.device) -> Iterator[None]:
    """Join the job's process group for the duration of training; leave it once every process
    is done. After an error there is no leaving together (the others may be mid-step, and a
    barrier would wait for them forever): the error ends this process, and torchrun the rest."""
    import torch.distributed as dist

    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=context.rank, world_size=context.world_size)
    yield
    dist.barrier()
    dist.destroy_process_group()


def replicate(module: nn.Module, context: DistributedContext, device: torch.device) -> nn.Module:
    """Wrap ``module`` for data-parallel training (dense embedding gradients on GPUs)."""
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        for child in module.modules():
            if isinstance(child, nn.Embedding | nn.EmbeddingBag):
                child.sparse = False
        return DistributedDataParallel(module, device_ids=[context.local_rank])
    return DistributedDataParallel(module)
