"""Face-parsing datasets: readers for several layouts, label mapping by name, augmentation and checks.

>>> train = open_dataset("../shared/data/celebamask-mini", split="train", size=128, mask_size=256, augment="face")
>>> item = train[0]   # {"image": 3x256x256 float, "mask": 256x256 int64, "annotated": 19 bool, "id": str}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from ..labels import CELEBAMASK_HQ, IGNORE, NOT_ANNOTATED
from .augment import AUGMENTATIONS, AugmentConfig, augment_sample, augmentation, color_jitter, random_affine
from .dataset import FaceParsingDataset, label_mapping, read_mask
from .layouts import LAYOUTS, Listing, Sample, detect_layout, list_samples, read_label_names

__all__ = [
    "open_dataset", "FaceParsingDataset", "AugmentConfig", "AUGMENTATIONS", "augmentation", "augment_sample",
    "random_affine", "color_jitter",
    "IGNORE", "NOT_ANNOTATED", "LAYOUTS", "Listing", "Sample", "detect_layout", "list_samples",
    "read_label_names", "label_mapping", "read_mask",
]


def open_dataset(
    path: str | Path,
    split: str | None = "train",
    size: int | None = 256,
    augment: bool | str | AugmentConfig = False,
    label_names: Sequence[str] | None = None,
    layout: str = "auto",
    mask_size: int | None = None,
) -> Dataset:
    """Open one split of a face-parsing dataset.

    Args:
        path: the dataset folder.
        split: ``"train"``, ``"val"``, ``"test"`` or ``None`` / ``"all"`` for every sample. Layouts without a
            split file (a plain ``folder``, ``hair``, ``images``) give every sample for any split.
        size: side of the square images (bicubic resize); ``None`` keeps each file's size.
        augment: a preset (``"face"``, ``"paper"``, ``"none"``), ``True`` for the paper's, or an
            :class:`AugmentConfig`.
        label_names: the model's classes; masks are mapped onto them by name (default: the dataset's own names,
            the 19 CelebAMask-HQ classes for ``hair`` and ``images``).
        layout: ``"auto"`` or one of :data:`LAYOUTS` (see :mod:`fpliif.data.layouts`).
        mask_size: side of the label maps (nearest resize) when it differs from ``size`` (evaluation at 512).

    Returns:
        A :class:`FaceParsingDataset`. Items are dicts of fixed-shape tensors (``image``, ``mask``,
        ``annotated``) and the ``id`` string, so a ``ConcatDataset`` of several datasets collates.
    """
    listing = list_samples(path, layout, split)
    if not listing.samples:
        where = f"split {split!r} of " if split not in (None, "all") else ""
        raise ValueError(f"{where}{path} ({listing.layout} layout) has no usable samples; run fpliif check-data {path}")
    if label_names is None:
        label_names = listing.names if listing.layout in ("celebamask-hq", "lapa", "folder") else CELEBAMASK_HQ.names
    return FaceParsingDataset(listing, label_names, size=size, mask_size=mask_size, augment=augment,
                              root=path)
