"""Feeding the loop: per-item seeded augmentation, concatenated datasets and the data loaders.

Items are dicts: ``image`` ``3 x S x S`` float in [0, 1], ``mask`` ``S x S`` int64 class ids (255 ignored, 254
"none of the annotated classes"), ``annotated`` bool ``[K]`` and ``id`` str (see :mod:`fpliif.data`).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from .distributed import ShardedSampler, seed_for

__all__ = ["SeededItems", "concat_datasets", "train_loader", "val_loader"]


class SeededItems(Dataset):
    """Wraps a dataset so that item ``(epoch, i)`` is drawn with RNGs seeded from ``(seed, epoch, i)``.

    Augmentation then depends only on the seed, the epoch and the index, not on which worker loads it or
    whether the run was resumed, so a resumed run is bit-for-bit the run that never stopped. In the main
    process (``workers=0``) the global RNG states are put back afterwards.
    """

    def __init__(self, dataset: Dataset, seed: int, num_classes: int):
        self.dataset, self.seed, self.num_classes = dataset, int(seed), int(num_classes)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int] | int) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        in_worker = torch.utils.data.get_worker_info() is not None
        saved = None if in_worker else (random.getstate(), np.random.get_state(), torch.get_rng_state())
        s = seed_for(self.seed, epoch, index)
        random.seed(s)
        np.random.seed(s % 2**32)
        torch.manual_seed(s)
        try:
            return complete_item(self.dataset[index], self.num_classes)
        finally:
            if saved is not None:
                random.setstate(saved[0])
                np.random.set_state(saved[1])
                torch.set_rng_state(saved[2])


def complete_item(item: dict, num_classes: int) -> dict:
    """Check an item's keys and fill ``annotated`` (all classes) and ``id`` when a dataset leaves them out."""
    for key in ("image", "mask"):
        if key not in item:
            raise ValueError(f"dataset items need 'image' and 'mask'; an item has only {sorted(item)}")
    out = dict(item)
    out["mask"] = torch.as_tensor(item["mask"]).long()
    if "annotated" not in out:
        out["annotated"] = torch.ones(num_classes, dtype=torch.bool)
    elif len(out["annotated"]) != num_classes:
        raise ValueError(
            f"an item annotates {len(out['annotated'])} classes but the model has {num_classes}; "
            "open the dataset with the model's label names (--labels)"
        )
    out.setdefault("id", "")
    return out


def concat_datasets(datasets: list[Dataset]) -> Dataset:
    """Several training sets as one (a labelled set plus pseudo-labelled or partially labelled ones)."""
    if not datasets:
        raise ValueError("no training data: give at least one --data PATH")
    return datasets[0] if len(datasets) == 1 else ConcatDataset(datasets)


def _loader_kwargs(workers: int, pin_memory: bool) -> dict:
    kw = {"num_workers": workers, "pin_memory": pin_memory}
    if workers > 0:
        kw.update(persistent_workers=True, prefetch_factor=4)
    return kw


def train_loader(items: SeededItems, sampler: ShardedSampler, batch_size: int, workers: int = 0,
                 pin_memory: bool = False) -> DataLoader:
    """Batches of ``batch_size`` in the sampler's order, the last short batch dropped (steps per epoch are fixed)."""
    return DataLoader(items, batch_size=batch_size, sampler=sampler, drop_last=True,
                      **_loader_kwargs(workers, pin_memory))


def val_loader(dataset: Dataset, batch_size: int, num_classes: int, workers: int = 0,
               pin_memory: bool = False) -> DataLoader:
    """The validation set in order, every item (no augmentation: open it with ``augment=False``)."""
    items = SeededItems(dataset, 0, num_classes)
    return DataLoader(items, batch_size=batch_size, shuffle=False, **_loader_kwargs(min(workers, 2), pin_memory))
