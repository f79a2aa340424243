"""Mask post-processing for hosts (ComfyUI nodes, the demo): grow or shrink, feather, keep the largest face.

Everything works on ``B x H x W`` float masks in [0, 1], on any device, with plain torch (no scipy, no OpenCV).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["grow_mask", "feather_mask", "largest_region", "refine_mask"]

LABEL_PROPAGATION_SIDE = 256  # connected components are found on a copy no larger than this (speed)


def grow_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Grow (``pixels > 0``) or shrink (``pixels < 0``) a ``B x H x W`` mask by a round structuring element.

    Soft masks stay soft: growing is a grey dilation (max over the disc), shrinking a grey erosion (min).
    """
    if pixels == 0:
        return mask
    radius = abs(int(pixels))
    size = 2 * radius + 1
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((yy - radius) ** 2 + (xx - radius) ** 2) <= radius * radius + radius  # a rounder disc than r^2
    x = mask[:, None] if pixels > 0 else 1 - mask[:, None]
    if radius <= 3:  # small discs: one max over the disc's offsets
        grown = _dilate_with(x, disc.to(mask.device))
    else:  # large discs: separable square pools are much faster and differ only at the corners
        grown = F.max_pool2d(x, kernel_size=size, stride=1, padding=radius)
    out = grown[:, 0]
    return out if pixels > 0 else 1 - out


def _dilate_with(x: torch.Tensor, footprint: torch.Tensor) -> torch.Tensor:
    r = footprint.shape[0] // 2
    padded = F.pad(x, (r, r, r, r), value=0.0)
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    for dy, dx in footprint.nonzero().tolist():
        out = torch.maximum(out, padded[..., dy:dy + h, dx:dx + w])
    return out


def feather_mask(mask: torch.Tensor, pixels: float) -> torch.Tensor:
    """Soften the edges of a ``B x H x W`` mask with a Gaussian blur whose ``3 sigma`` is ``pixels``."""
    if pixels <= 0:
        return mask
    sigma = pixels / 3.0
    radius = max(1, math.ceil(pixels))
    t = torch.arange(-radius, radius + 1, device=mask.device, dtype=mask.dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = mask[:, None]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x[:, 0].clamp_(0, 1)


def largest_region(region: torch.Tensor) -> torch.Tensor:
    """Keep only the largest 8-connected component of each boolean ``B x H x W`` region.

    Components are found on a copy scaled down to at most 256 px (label propagation with max pooling),
    then scaled back, so the cost does not grow with the output resolution.
    """
    b, h, w = region.shape
    scale = min(1.0, LABEL_PROPAGATION_SIDE / max(h, w))
    small_hw = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(region[:, None].float(), size=small_hw, mode="area")[:, 0] > 0.5
    keep = torch.stack([_largest_component(m) for m in small])
    back = F.interpolate(keep[:, None].float(), size=(h, w), mode="nearest")[:, 0] > 0.5
    return back & region.bool()


def _largest_component(region: torch.Tensor) -> torch.Tensor:
    """``H x W`` bool -> the largest 8-connected component (all False if the region is empty)."""
    if not region.any():
        return region
    h, w = region.shape
    ids = torch.arange(1, h * w + 1, dtype=torch.float32, device=region.device).view(1, 1, h, w)
    ids = ids * region
    inside = region.view(1, 1, h, w)
    for _ in range(h * w):  # each pass spreads the largest id one pixel; stops when nothing changes
        spread = F.max_pool2d(ids, 3, stride=1, padding=1) * inside
        if torch.equal(spread, ids):
            break
        ids = spread
    labels = ids.view(-1).long()
    counts = torch.bincount(labels, minlength=1)
    counts[0] = 0
    return (ids.view(h, w) == counts.argmax()).to(torch.bool)


def refine_mask(mask: torch.Tensor, grow: int = 0, feather: float = 0.0, invert: bool = False) -> torch.Tensor:
    """Grow or shrink, then feather, then optionally invert a ``B x H x W`` mask in [0, 1]."""
    out = feather_mask(grow_mask(mask, grow), feather)
    return 1 - out if invert else out
