"""Check a dataset before training: every problem named by file, and how often each class occurs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..labels import IGNORE
from ..text import first_few
from .dataset import read_mask
from .layouts import Listing, Sample, list_samples

__all__ = ["CheckReport", "check_dataset"]


@dataclass
class CheckReport:
    """What :func:`check_dataset` found.

    Attributes:
        layout, split: what was checked.
        samples: paired samples found.
        problems: one line per problem, starting with the file it concerns.
        names: class names of the masks.
        pixels: mask pixels per class id (ids past ``names`` are out of range).
        images_with: images containing each class.
        sizes: image sizes seen, ``(width, height) -> count``.
    """

    layout: str
    split: str | None
    samples: int = 0
    problems: list[str] = field(default_factory=list)
    names: tuple[str, ...] = ()
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    images_with: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def frequency_table(self) -> str:
        """Class, pixel count, share of labelled pixels and number of images, one line per class."""
        total = max(int(self.pixels.sum()), 1)
        lines = [f"{'id':>3}  {'class':<12} {'pixels':>12} {'share':>7} {'images':>7}"]
        for i, name in enumerate(self.names):
            n = int(self.pixels[i]) if i < len(self.pixels) else 0
            imgs = int(self.images_with[i]) if i < len(self.images_with) else 0
            lines.append(f"{i:>3}  {name:<12} {n:>12} {100 * n / total:>6.2f}% {imgs:>7}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "layout": self.layout, "split": self.split, "samples": self.samples, "problems": self.problems,
            "classes": {n: {"pixels": int(self.pixels[i]), "images": int(self.images_with[i])}
                        for i, n in enumerate(self.names)},
            "sizes": {f"{w}x{h}": c for (w, h), c in self.sizes.items()},
        }


def check_dataset(path: str | Path, layout: str = "auto", split: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Read every image and mask of ``split`` (default all) and report problems by file name.

    Problems: images without masks and masks without images, ids in a splits file with neither, unreadable
    files, masks whose size differs from their image's, mask values outside the label set (``IGNORE``, 255, is
    allowed: it marks unknown pixels), and a dataset with no samples.
    """
    listing = list_samples(path, layout, split)
    report = CheckReport(listing.layout, split, len(listing.samples), list(listing.problems), listing.names)
    k = len(listing.names)
    report.pixels = np.zeros(max(k, 1), dtype=np.int64)
    report.images_with = np.zeros(max(k, 1), dtype=np.int64)
    if not listing.samples:
        report.problems.append(f"{path}: no samples found for split {split or 'all'} ({listing.layout} layout)")
    for n, sample in enumerate(listing.samples):
        _check_sample(sample, listing, report)
        if progress is not None:
            progress(n + 1, len(listing.samples))
    return report


def _check_sample(sample: Sample, listing: Listing, report: CheckReport) -> None:
    try:
        with Image.open(sample.image) as im:
            im.load()
            size = im.size
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        report.problems.append(f"{sample.image}: unreadable image ({e})")
        return
    report.sizes[size] = report.sizes.get(size, 0) + 1
    if not sample.labelled:
        return
    try:
        mask = read_mask(sample) if not sample.binary else _read_raw(sample.mask)
    except ValueError as e:
        report.problems.append(str(e))
        return
    where = sample.mask or sample.parts[0][1]
    if not _sizes_match(size, mask.shape[::-1], listing.layout):
        report.problems.append(f"{where}: mask is {mask.shape[1]}x{mask.shape[0]} but its image "
                               f"{sample.image.name} is {size[0]}x{size[1]}")
    if sample.binary:
        odd = sorted(set(np.unique(mask).tolist()) - {0, 255})
        mask = (mask >= 128).astype(np.int64)
        if odd:
            report.problems.append(f"{where}: binary mask has values {first_few(odd, 6)}; expected only 0 and 255")
    _count(mask, where, listing.names, report)


def _count(mask: np.ndarray, where: Path, names: tuple[str, ...], report: CheckReport) -> None:
    k = len(names)
    values = np.unique(mask)
    bad = [int(v) for v in values if v >= k and v != IGNORE]
    if bad:
        report.problems.append(f"{where}: mask values {first_few(bad, 6)} are outside the {k} classes 0..{k - 1} "
                               f"(255 = unknown is allowed)")
    counts = np.bincount(mask[(mask < k)].ravel(), minlength=k)
    report.pixels += counts
    report.images_with += counts > 0


def _read_raw(path: Path) -> np.ndarray:
    return read_mask(Sample("", path, path))


def _sizes_match(image: tuple[int, int], mask: tuple[int, int], layout: str) -> bool:
    if layout == "celebamask-hq":  # official: 1024 px images, 512 px part masks; the aspect must agree
        return image[0] * mask[1] == image[1] * mask[0]
    return image == mask
