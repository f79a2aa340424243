"""Several processes through ``torchrun`` (DistributedDataParallel), with no launcher of our own.

``torchrun --nproc_per_node 4 -m fpliif train ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; we read
them, pick ``nccl`` on CUDA and ``gloo`` on CPU, shard the data with :class:`ShardedSampler` and let only rank 0
write files. A single process (no ``WORLD_SIZE``) runs the same code with a world of one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..device import resolve_device

__all__ = ["DistInfo", "init_distributed", "shutdown_distributed", "ShardedSampler", "seed_for"]


@dataclass
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, its ``local_rank`` on the machine and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (if any) and pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank=local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def seed_for(*parts: int) -> int:
    """A 63-bit seed mixed from integers (seed, epoch, index, ...), the same on every machine."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class ShardedSampler(torch.utils.data.Sampler):
    """Like ``DistributedSampler``, plus exact mid-epoch resume, yielding ``(epoch, index)`` keys.

    Each epoch is a permutation seeded by ``(seed, epoch)``, padded to a multiple of ``world_size`` and split
    by rank; :meth:`set_epoch` with ``start`` skips the samples this rank already used, so a resumed run
    sees the same batches as one that never stopped. The epoch travels with each index so a dataset wrapper
    (see :class:`fpliif.train.loaders.SeededItems`) can seed augmentation per item, also inside workers.
    """

    def __init__(self, length: int, seed: int = 0, rank: int = 0, world_size: int = 1, shuffle: bool = True):
        if length < 1:
            raise ValueError("the dataset is empty; check the --data folder and its split")
        self.length, self.seed, self.rank, self.world_size, self.shuffle = length, seed, rank, world_size, shuffle
        self.epoch, self.start = 0, 0
        self.per_rank = -(-length // world_size)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Use epoch ``epoch``'s order, beginning at this rank's ``start``-th sample."""
        self.epoch, self.start = int(epoch), int(start)

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(seed_for(self.seed, self.epoch))
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        order += order[: self.per_rank * self.world_size - self.length]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(self.epoch, i) for i in self.indices()[self.start :]])

    def __len__(self) -> int:
        return self.per_rank - self.start
