"""A tiny generated face-parsing set for tests, smoke runs and throughput benchmarks (no files needed)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ..labels import NOT_ANNOTATED

__all__ = ["SyntheticFaces"]

# class id -> RGB the image uses for it (the model learns colour + shape)
_COLORS = torch.tensor([(0.15, 0.35, 0.55), (0.85, 0.65, 0.55), (0.2, 0.2, 0.3), (0.75, 0.25, 0.3),
                        (0.3, 0.2, 0.1)])


class SyntheticFaces(Dataset):
    """Face-like drawings: an oval (1) with two eyes (2), lips (3) and hair (4) on a background (0).

    Args:
        length: number of items.
        size: image and mask side.
        num_classes: classes of the model (at least 5; the extra ones never occur).
        partial_class: if set, masks hold only this class and 254 elsewhere, with ``annotated`` marking it
            alone (like the hair-only masks).
        seed: items are a function of ``(seed, index)``, plus the global RNG's noise when ``noise`` > 0.
        noise: standard deviation of pixel noise drawn from the global RNG (the "augmentation").
    """

    def __init__(self, length: int = 16, size: int = 32, num_classes: int = 5, partial_class: int | None = None,
                 seed: int = 0, noise: float = 0.0):
        if num_classes < 5:
            raise ValueError(f"SyntheticFaces needs num_classes >= 5, got {num_classes}")
        self.length, self.size, self.num_classes = length, size, num_classes
        self.partial_class, self.seed, self.noise = partial_class, seed, noise

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 100_003 + index)
        s = self.size
        y, x = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
        cy, cx = (torch.rand(2, generator=g) - 0.5) * 0.3
        ry, rx = 0.55 + 0.2 * torch.rand(2, generator=g)
        mask = torch.zeros(s, s, dtype=torch.int64)
        mask[((y - cy + 0.25) / (ry + 0.1)) ** 2 + ((x - cx) / (rx + 0.1)) ** 2 < 1] = 4  # hair
        mask[((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1] = 1  # face
        for ex in (-0.35, 0.35):
            mask[((y - cy + 0.15) / 0.1) ** 2 + ((x - cx - ex * rx) / 0.15) ** 2 < 1] = 2  # eyes
        mask[((y - cy - 0.45 * ry) / 0.08) ** 2 + ((x - cx) / 0.3) ** 2 < 1] = 3  # lips
        image = _COLORS[mask].permute(2, 0, 1).clone()
        if self.noise:
            image = (image + self.noise * torch.randn(image.shape)).clamp(0, 1)
        annotated = torch.ones(self.num_classes, dtype=torch.bool)
        if self.partial_class is not None:
            mask = torch.where(mask == self.partial_class, mask, torch.full_like(mask, NOT_ANNOTATED))
            annotated = torch.zeros(self.num_classes, dtype=torch.bool)
            annotated[self.partial_class] = True
        return {"image": image, "mask": mask, "annotated": annotated, "id": f"synthetic-{index}"}
