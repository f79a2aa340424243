"""The face-parsing dataset: reads a layout's samples, maps their labels onto a model's, resizes and augments."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..labels import IGNORE, NOT_ANNOTATED
from .augment import AugmentConfig, augment_sample, augmentation
from .layouts import Listing, Sample

__all__ = ["FaceParsingDataset", "IGNORE", "NOT_ANNOTATED", "label_mapping", "read_mask", "sides_swapped"]

# A source class missing from the target set goes to this target class if present, else to the background.
ALIASES = {"eye_g": "skin"}  # glasses frames lie on the skin that LaPa-style label sets mark around the eyes


def label_mapping(source: Sequence[str], target: Sequence[str]) -> tuple[np.ndarray, torch.Tensor]:
    """Lookup table from source mask values to target class ids, and which target classes are annotated.

    Classes are matched by name. A source class the target lacks maps to its alias or the background. When the
    target has classes the source does not label (e.g. LaPa data for a 19-class model, or hair-only masks), the
    source background no longer means "background" but "none of the annotated classes": it maps to
    ``NOT_ANNOTATED`` and the target background is not annotated.

    Returns:
        lut: ``256`` int64, mask value -> target id, ``IGNORE`` for values outside the source label set.
        annotated: ``K`` bool, target classes this source labels.
    """
    index = {n: i for i, n in enumerate(target)}
    background = index.get("background", NOT_ANNOTATED)
    partial = any(n not in source for n in target if n != "background")
    lut = np.full(256, IGNORE, dtype=np.int64)
    lut[NOT_ANNOTATED] = NOT_ANNOTATED
    for s, name in enumerate(source):
        t = index.get(name, index.get(ALIASES.get(name, ""), background))
        lut[s] = NOT_ANNOTATED if partial and t == background else t
    annotated = torch.tensor([n in source and not (partial and n == "background") for n in target])
    return lut, annotated


def sides_swapped(mask: np.ndarray, label_names: Sequence[str]) -> bool:
    """Whether a frontal face's left/right classes sit on the unusual sides: the person's left eye, brow and ear
    (``l_eye``, ...) appear on the viewer's right of an upright face, and a majority of the pairs present says
    otherwise. CelebAMask-HQ has such masks (56 of the 800 train and 6 of the 100 val masks of celebamask-mini),
    which teach a model to guess the side; ``scripts/make_pack.py`` swaps the training ones back."""
    from ..labels import LabelSet

    mirror = LabelSet.from_names(label_names).mirror_permutation()
    votes = []
    for left, right in {(i, j) for i, j in enumerate(mirror) if i != j and label_names[i].startswith("l_")}:
        xl, xr = np.nonzero(mask == left)[1], np.nonzero(mask == right)[1]
        if len(xl) and len(xr):
            votes.append(xl.mean() < xr.mean())
    return len(votes) > 0 and sum(votes) > len(votes) / 2


def read_mask(sample: Sample) -> np.ndarray:
    """The sample's mask in its layout's label ids: ``H x W`` uint8, or int64 for 16-bit PNGs (values over 255
    are kept, to be reported)."""
    if sample.parts:
        merged = None
        for class_id, path in sample.parts:
            part = _read_index_png(path)
            merged = np.zeros(part.shape, dtype=np.uint8) if merged is None else merged
            if part.shape != merged.shape:
                raise ValueError(f"{path} is {part.shape[1]}x{part.shape[0]}, other parts are "
                                 f"{merged.shape[1]}x{merged.shape[0]}; all part masks of an image must match")
            merged[part != 0] = class_id
        return merged
    mask = _read_index_png(sample.mask)
    return (mask >= 128).astype(np.uint8) if sample.binary else mask


def _read_index_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path} is not a readable mask image ({e})") from e
    if im.mode in ("RGB", "RGBA"):
        arr = np.asarray(im)[..., :3]
        if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise ValueError(f"{path} is a colour image; masks must be single-channel PNGs of class ids")
        return arr[..., 0].copy()
    if im.mode in ("L", "P"):
        return np.asarray(im)
    if im.mode not in ("I", "I;16", "1"):
        raise ValueError(f"{path} has image mode {im.mode}; masks must be single-channel PNGs of class ids")
    return np.asarray(im).astype(np.int64)


def _load_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path} is not a readable image ({e})") from e


class FaceParsingDataset(Dataset):
    """Images and label maps of one split, resized to ``size`` (bicubic images, nearest masks).

    Each item is a dict: ``image`` ``3 x S x S`` float32 in [0, 1]; ``mask`` ``M x M`` int64 class ids with
    ``IGNORE`` (255) and ``NOT_ANNOTATED`` (254); ``annotated`` ``K`` bool; ``id`` str. ``M`` is ``mask_size``
    (default ``S``): a small network input can be supervised by sharper labels, since the decoder is queried at
    the label map's pixel centres. ``augment`` is a preset name (``"face"``, ``"paper"``, ``"none"``), ``True``
    (the paper's), or an :class:`AugmentConfig`. Augmentation draws from the global RNGs, which the training
    loader seeds per item and epoch (:class:`fpliif.train.loaders.SeededItems`), so a run repeats and resumes
    exactly whatever the number of loader workers.
    """

    def __init__(self, listing: Listing, label_names: Sequence[str], size: int | None = 256,
                 mask_size: int | None = None, augment: bool | str | AugmentConfig = False,
                 root: str | Path | None = None):
        self.listing, self.samples, self.root = listing, listing.samples, root
        self.label_names = tuple(label_names)
        self.size, self.mask_size = size, mask_size or size
        self.augment = augmentation(augment)
        if listing.names:
            self.lut, self.annotated = label_mapping(listing.names, self.label_names)
            self.lut8 = self.lut.astype(np.uint8)
        else:
            self.lut, self.annotated = None, torch.zeros(len(self.label_names), dtype=torch.bool)
        self.mirror = _mirror_permutation(self.label_names)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        image = _load_rgb(sample.image)
        mask = self.load_mask(sample, image.size)
        image, mask = self._resize(image, mask)
        # numpy, not torch, for the conversion: it stays single-threaded in the main process
        pixels = np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1)) / np.float32(255)
        item = {
            "image": torch.from_numpy(pixels),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "annotated": self.annotated.clone(),
            "id": sample.id,
        }
        if self.augment is not None:
            with _single_threaded():
                item["image"], item["mask"], item["annotated"] = augment_sample(
                    item["image"], item["mask"], item["annotated"], self.augment, None, self.mirror)
        return item

    def load_mask(self, sample: Sample, image_size: tuple[int, int]) -> np.ndarray:
        """``H x W`` uint8 target ids at the file's resolution (all ``IGNORE`` for unlabelled samples)."""
        if self.lut is None or not sample.labelled:
            return np.full(image_size[::-1], IGNORE, dtype=np.uint8)
        raw = read_mask(sample)
        if raw.dtype == np.uint8:
            return self.lut8[raw]
        return np.where(raw > 255, IGNORE, self.lut[np.clip(raw, 0, 255)]).astype(np.uint8)

    def _resize(self, image: Image.Image, mask: np.ndarray) -> tuple[Image.Image, np.ndarray]:
        if self.size is not None and image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.BICUBIC)
        if self.mask_size is not None and mask.shape != (self.mask_size, self.mask_size):
            mask = np.asarray(Image.fromarray(mask).resize((self.mask_size, self.mask_size), Image.NEAREST))
        return image, mask


@contextmanager
def _single_threaded():
    """Run small tensor ops on one thread: on a busy CPU, intra-op threads make a 256 px augmentation 50x slower.

    Loader workers already run single-threaded; this covers ``num_workers=0``.
    """
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


def _mirror_permutation(names: Sequence[str]) -> list[int]:
    from ..labels import LabelSet

    return LabelSet.from_names(names).mirror_permutation()
