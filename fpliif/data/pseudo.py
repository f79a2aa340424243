"""Pseudo-labels: a trained model's confident predictions over unlabelled (or partly labelled) faces.

The output folder is a ``folder``-layout dataset: ``images/<id>.<ext>``, ``masks/<id>.png`` (class ids, 255 where
the model is unsure) and ``labels.txt``, so ``open_dataset(out)`` reads it back for training.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..labels import IGNORE, NOT_ANNOTATED
from .dataset import FaceParsingDataset
from .layouts import LABELS_FILE, list_samples

__all__ = ["PseudoLabelStats", "pseudo_label", "apply_partial", "confident_labels"]


@dataclass
class PseudoLabelStats:
    """How many images were labelled and which share of their pixels kept a label."""

    images: int = 0
    pixels: int = 0
    kept: int = 0
    per_image: dict[str, float] = field(default_factory=dict)

    @property
    def kept_fraction(self) -> float:
        return self.kept / max(self.pixels, 1)


def confident_labels(logits: torch.Tensor, temperature: float, threshold: float) -> torch.Tensor:
    """``K x H x W`` logits -> ``H x W`` int64 arg-max labels, ``IGNORE`` where the top probability < threshold."""
    probs = torch.softmax(logits.float() / temperature, dim=0)
    confidence, labels = probs.max(dim=0)
    return torch.where(confidence < threshold, torch.full_like(labels, IGNORE), labels)


def apply_partial(labels: torch.Tensor, partial: torch.Tensor, annotated: torch.Tensor) -> torch.Tensor:
    """Let known labels override predictions.

    Args:
        labels: ``H x W`` predicted ids (``IGNORE`` where unsure).
        partial: ``H x W`` ids from a partial label: a class id where known, ``NOT_ANNOTATED`` where the pixel is
            none of the annotated classes, ``IGNORE`` where unknown.
        annotated: ``K`` bool, the classes the partial label annotates.

    Returns:
        ``H x W``: the known class where given; ``IGNORE`` where the model predicts an annotated class that the
        partial label rules out (e.g. predicted hair outside the hair mask); the prediction elsewhere.
    """
    out = labels.clone()
    known = partial < NOT_ANNOTATED
    out[known] = partial[known]
    predicted_annotated = torch.zeros_like(labels, dtype=torch.bool)
    valid = labels < len(annotated)
    predicted_annotated[valid] = annotated[labels[valid]]
    out[(partial == NOT_ANNOTATED) & predicted_annotated] = IGNORE
    return out


def pseudo_label(
    parser, images: str | Path, out: str | Path, partial: FaceParsingDataset | None = None,
    threshold: float = 0.7, batch_size: int = 4, link_images: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PseudoLabelStats:
    """Write pseudo-label masks for every image under ``images`` (recursively) into ``out``.

    Args:
        parser: a :class:`~fpliif.FaceParser`; masks are predicted at each image's own size.
        images: folder of images (ids as in the ``images`` layout: relative path, ``/`` -> ``_``).
        out: output folder (``images/``, ``masks/``, ``labels.txt``, ``pseudo_label.json``).
        partial: partial labels over the same ids (``open_dataset(..., layout="hair", size=None)``).
        threshold: pixels whose top class probability is lower get 255 (unknown).
        link_images: symlink the images into ``out/images`` instead of copying them.
        progress: called with ``(done, total)``.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold is a probability in [0, 1], got {threshold}")
    samples = list_samples(images, "images", None).samples
    if not samples:
        raise ValueError(f"{images} holds no images to pseudo-label")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    (out / LABELS_FILE).write_text("\n".join(parser.label_set.names) + "\n")
    partial_index = {s.id: i for i, s in enumerate(partial.samples)} if partial is not None else {}
    stats = PseudoLabelStats()
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        for sample, result in zip(chunk, parser([s.image for s in chunk])):
            labels = confident_labels(result.logits, parser.cfg.temperature, threshold)
            if sample.id in partial_index:
                labels = apply_partial(labels, _partial_mask(partial, partial_index[sample.id], labels.shape),
                                       partial.annotated)
            Image.fromarray(labels.to(torch.uint8).numpy()).save(out / "masks" / f"{sample.id}.png")
            _place_image(sample.image, out / "images" / f"{sample.id}{sample.image.suffix.lower()}", link_images)
            kept = int((labels != IGNORE).sum())
            stats.images, stats.pixels, stats.kept = stats.images + 1, stats.pixels + labels.numel(), stats.kept + kept
            stats.per_image[sample.id] = kept / labels.numel()
        if progress is not None:
            progress(min(start + batch_size, len(samples)), len(samples))
    _write_summary(out, parser, threshold, partial, stats)
    return stats


def _partial_mask(dataset: FaceParsingDataset, index: int, shape: tuple[int, int]) -> torch.Tensor:
    sample = dataset.samples[index]
    mask = dataset.load_mask(sample, (shape[1], shape[0]))
    if mask.shape != tuple(shape):
        mask = np.asarray(Image.fromarray(mask).resize((shape[1], shape[0]), Image.NEAREST))
    return torch.from_numpy(mask.astype(np.int64))


def _place_image(source: Path, target: Path, link: bool) -> None:
    if target.exists() or target.is_symlink():
        target.unlink()
    if link:
        os.symlink(source.resolve(), target)
    else:
        shutil.copyfile(source, target)


def _write_summary(out: Path, parser, threshold: float, partial, stats: PseudoLabelStats) -> None:
    summary = {
        "threshold": threshold, "labels": list(parser.label_set.names), "images": stats.images,
        "tta": getattr(parser, "tta", "none"), "kept_fraction": round(stats.kept_fraction, 4),
        "partial": str(partial.root) if partial is not None else None,
        "per_image_kept": {k: round(v, 4) for k, v in stats.per_image.items()},
    }
    (out / "pseudo_label.json").write_text(json.dumps(summary, indent=2) + "\n")
