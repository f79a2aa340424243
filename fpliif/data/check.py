"""Check a dataset before training: every problem named by file, and how often each class occurs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..labels import IGNORE
from ..text import first_few
from .dataset import read_mask
from .layouts import Listing, Sample, list_samples

__all__ = ["CheckReport", "check_dataset", "screen_samples", "drop_bad_samples", "BadSamples"]


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


@dataclass
class BadSamples:
    """What :func:`screen_samples` found in one split.

    Attributes:
        samples: sample id -> its problems (one line each, starting with the file).
        unpaired: problems of files that form no sample (an image without a mask, a mask without an image).
    """

    samples: dict[str, list[str]] = field(default_factory=dict)
    unpaired: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.unpaired + [line for lines in self.samples.values() for line in lines]

    def __bool__(self) -> bool:
        return bool(self.samples or self.unpaired)


def screen_samples(listing: Listing, decode_images: bool = False) -> BadSamples:
    """The checks of :func:`check_dataset`, per sample, for training: masks are read in full (their values and
    sizes), images only from their headers unless ``decode_images`` (a truncated image is then found when it is
    loaded). The problems are the same lines ``fpliif check-data`` prints."""
    report = CheckReport(listing.layout, None, len(listing.samples), [], listing.names)
    report.pixels = np.zeros(max(len(listing.names), 1), dtype=np.int64)
    report.images_with = np.zeros_like(report.pixels)
    bad = BadSamples(unpaired=list(listing.problems))
    for sample in listing.samples:
        before = len(report.problems)
        _check_sample(sample, listing, report, decode_image=decode_images)
        if len(report.problems) > before:
            bad.samples[sample.id] = report.problems[before:]
    return bad


def drop_bad_samples(dataset, path: str | Path, split: str, skip: bool) -> list[str]:
    """Run :func:`screen_samples` on an opened dataset before training: stop at the first problem, or (``skip``)
    train without the bad samples.

    Returns:
        the problem lines of the samples left out (empty when the data is clean).

    Raises:
        ValueError: a problem, named as ``fpliif check-data`` names it, when not ``skip``; or no sample left.
    """
    listing = getattr(dataset, "listing", None)
    if listing is None:
        return []
    bad = screen_samples(listing)
    if not bad:
        return []
    lines = bad.lines
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    if not skip:
        raise ValueError(f"{path} ({split} split): {lines[0]}{more}. Fix the data (`fpliif check-data {path}` "
                         "lists every problem), or pass --skip-bad-samples to train without those samples (each "
                         "one is logged)")
    keep = [s for s in dataset.samples if s.id not in bad.samples]
    if not keep:
        raise ValueError(f"{path} ({split} split): no sample is usable, e.g. {lines[0]}{more}")
    dataset.samples, dataset.listing = keep, replace(listing, samples=keep)
    return lines


def _check_sample(sample: Sample, listing: Listing, report: CheckReport, decode_image: bool = True) -> None:
    try:
        with Image.open(sample.image) as im:
            if decode_image:
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
        odd = [v for v in _values(mask) if v not in (0, 255)]
        mask = (mask >= 128).astype(np.uint8)
        if odd:
            report.problems.append(f"{where}: binary mask has values {first_few(odd, 6)}; expected only 0 and 255")
    _count(mask, where, listing.names, report)


def _count(mask: np.ndarray, where: Path, names: tuple[str, ...], report: CheckReport) -> None:
    k = len(names)
    histogram = _histogram(mask)
    bad = [int(v) for v in np.flatnonzero(histogram) if v >= k and v != IGNORE]
    if bad:
        report.problems.append(f"{where}: mask values {first_few(bad, 6)} are outside the {k} classes 0..{k - 1} "
                               f"(255 = unknown is allowed)")
    counts = np.zeros(k, dtype=np.int64)
    counts[:min(k, len(histogram))] = histogram[:k]
    report.pixels += counts
    report.images_with += counts > 0


def _histogram(mask: np.ndarray) -> np.ndarray:
    """Pixels per mask value, index = value (8-bit masks: a bincount, linear time, unlike np.unique's sort; wider
    ones, rare, through np.unique, with negative values counted as 65536 so they are reported)."""
    flat = mask.ravel()
    if flat.dtype == np.uint8:
        return np.bincount(flat, minlength=256)
    values, counts = np.unique(flat, return_counts=True)
    values = np.where(values < 0, 65536, values).astype(np.int64)
    histogram = np.zeros(int(values.max(initial=0)) + 1, dtype=np.int64)
    np.add.at(histogram, values, counts)
    return histogram


def _values(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(_histogram(mask)).tolist()


def _read_raw(path: Path) -> np.ndarray:
    return read_mask(Sample("", path, path))


def _sizes_match(image: tuple[int, int], mask: tuple[int, int], layout: str) -> bool:
    if layout == "celebamask-hq":  # official: 1024 px images, 512 px part masks; the aspect must agree
        return image[0] * mask[1] == image[1] * mask[0]
    return image == mask
