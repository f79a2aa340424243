"""Training augmentation, on tensors with torch only.

Random affine (rotation, shear, scale, shift) with a random crop back to the input size, then colour jitter
(brightness, contrast, saturation, hue) in a random order, as torchvision's ``RandomAffine`` and ``ColorJitter``
do; a horizontal flip swaps the left and right classes. Two presets (:data:`AUGMENTATIONS`):

- ``"paper"``: the paper's ranges (section 4.2): rotation up to 30 degrees, shear 0-20 degrees, scale 0.5-3,
  brightness 0.5-1.5, contrast 0-2, saturation 0.5-1.5, hue +-0.3, no flip.
- ``"face"`` (the default of ``fpliif train``): ranges that match what the parser sees after face alignment
  (rotation +-20, scale 0.75-1.35, shifts of a few percent, milder colour changes) and a flip half the time. A
  small data set learns far faster through these than through the paper's, and aligned faces are what
  ``FaceParser`` feeds the network.

The image and the label map may have different sizes (a 128 px network input supervised by 256 px labels):
both are warped by the same transform of the normalised ``[-1, 1]`` square. Every draw comes from the
``generator`` passed in (or the global RNG), so a seeded run repeats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..labels import IGNORE, NOT_ANNOTATED

__all__ = [
    "AugmentConfig", "AUGMENTATIONS", "augmentation", "augment_sample", "random_affine", "color_jitter", "rgb_to_hsv",
    "hsv_to_rgb",
]



@dataclass
class AugmentConfig:
    """Ranges of the random draws; each is uniform. Defaults are the paper's."""

    rotation: float = 30.0  # degrees, drawn from [-rotation, rotation]
    shear: tuple[float, float] = (0.0, 20.0)  # degrees of x-shear
    scale: tuple[float, float] = (0.5, 3.0)
    brightness: tuple[float, float] = (0.5, 1.5)
    contrast: tuple[float, float] = (0.0, 2.0)
    saturation: tuple[float, float] = (0.5, 1.5)
    hue: float = 0.3  # hue shift drawn from [-hue, hue], in turns of the colour wheel
    translate: float = 0.0  # extra shift, drawn from [-translate, translate] of the half-width, on top of the crop
    hflip: float = 0.0  # probability of a horizontal flip (the paper does not flip)
    affine_p: float = 1.0  # probability of the affine step
    jitter_p: float = 1.0  # probability of the colour step

    def __post_init__(self) -> None:
        for name in ("hflip", "affine_p", "jitter_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)!r}")
        if self.scale[0] <= 0 or self.scale[1] < self.scale[0]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {self.scale!r}")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {self.hue!r}")
        if self.translate < 0:
            raise ValueError(f"translate must be >= 0, got {self.translate!r}")


AUGMENTATIONS = {
    "paper": AugmentConfig(),
    "face": AugmentConfig(rotation=20.0, shear=(-5.0, 5.0), scale=(0.75, 1.35), translate=0.08,
                          brightness=(0.7, 1.3), contrast=(0.7, 1.3), saturation=(0.7, 1.3), hue=0.03,
                          hflip=0.5, affine_p=0.9, jitter_p=0.8),
}


def augmentation(name: str | bool | AugmentConfig | None) -> AugmentConfig | None:
    """An :class:`AugmentConfig` from a preset name (``"face"``, ``"paper"``, ``"none"``), ``True`` (the paper's,
    as before presets existed), ``False``/``None`` (off) or a config (returned as is)."""
    if isinstance(name, AugmentConfig) or name is None:
        return name
    if name is True:
        return AUGMENTATIONS["paper"]
    if name is False or name == "none":
        return None
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {', '.join([*AUGMENTATIONS, 'none'])}")
    return AUGMENTATIONS[name]


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def augment_sample(
    image: torch.Tensor, mask: torch.Tensor, annotated: torch.Tensor, cfg: AugmentConfig | None = None,
    generator: torch.Generator | None = None, mirror: Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment one training pair.

    Args:
        image: ``3 x S x S`` float in [0, 1].
        mask: ``M x M`` int64 class ids, 254 and 255 as in the dataset (``M`` may differ from ``S``).
        annotated: ``K`` bool, the classes labelled in this sample.
        cfg: the ranges (default: the paper's).
        generator: source of every random draw (default: the global RNG).
        mirror: class id after a horizontal flip (``LabelSet.mirror_permutation()``); needed when ``hflip > 0``.

    Returns:
        The augmented ``image``, ``mask`` and ``annotated`` (same shapes).
    """
    cfg = cfg or AugmentConfig()
    if cfg.hflip > 0 and _uniform(0, 1, generator) < cfg.hflip:
        image, mask, annotated = hflip(image, mask, annotated, mirror)
    if cfg.affine_p > 0 and _uniform(0, 1, generator) < cfg.affine_p:
        fill = 0 if annotated[0] else (NOT_ANNOTATED if annotated.any() else IGNORE)
        image, mask = random_affine(image, mask, cfg, generator, fill)
    if cfg.jitter_p > 0 and _uniform(0, 1, generator) < cfg.jitter_p:
        image = color_jitter(image, cfg, generator)
    return image, mask, annotated


def hflip(image: torch.Tensor, mask: torch.Tensor, annotated: torch.Tensor, mirror: Sequence[int] | None):
    """Flip left-right; left and right classes swap ids (``mirror`` is an involution over class ids)."""
    if mirror is None:
        raise ValueError("hflip > 0 needs the label set's mirror permutation (LabelSet.mirror_permutation())")
    perm = torch.as_tensor(list(mirror), dtype=torch.long)
    lut = torch.arange(256)
    lut[: len(perm)] = perm
    return image.flip(-1), lut[mask.flip(-1)], annotated[perm]


def random_affine(image: torch.Tensor, mask: torch.Tensor, cfg: AugmentConfig,
                  generator: torch.Generator | None = None, fill: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate, shear and scale about the centre, then take a random window of the result.

    The crop is a random shift of up to ``|scale - 1| + translate`` half-widths, so a zoomed-in image is cropped
    anywhere and a shrunk one placed anywhere in the frame. Image and mask are warped by the same transform of
    the normalised square, each at its own size. Out-of-frame image pixels are black; out-of-frame mask pixels
    get ``fill``. Images are sampled bicubic, masks nearest.
    """
    angle = math.radians(_uniform(-cfg.rotation, cfg.rotation, generator))
    shear = math.radians(_uniform(*cfg.shear, generator))
    scale = _uniform(*cfg.scale, generator)
    reach = abs(scale - 1) + cfg.translate
    shift = torch.tensor([_uniform(-reach, reach, generator), _uniform(-reach, reach, generator)])
    cos, sin = math.cos(angle), math.sin(angle)
    forward = scale * torch.tensor([[cos, -sin], [sin, cos]]) @ torch.tensor([[1.0, math.tan(shear)], [0.0, 1.0]])
    inverse = torch.linalg.inv(forward)
    theta = torch.cat([inverse, (-inverse @ shift)[:, None]], dim=1)[None]  # output (x, y) -> input (x, y)
    grid = F.affine_grid(theta, [1, 1, *image.shape[-2:]], align_corners=False)
    image = F.grid_sample(image[None], grid, mode="bicubic", padding_mode="zeros", align_corners=False)[0]
    grid = F.affine_grid(theta, [1, 1, *mask.shape[-2:]], align_corners=False)
    shifted = (mask + 1).float()[None, None]  # 0 after sampling = out of frame
    mask = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)[0, 0].long() - 1
    return image.clamp_(0, 1), torch.where(mask < 0, torch.full_like(mask, fill), mask)


def color_jitter(image: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Brightness, contrast, saturation and hue changes in a random order, on ``3 x H x W`` in [0, 1]."""
    factors = {
        "brightness": _uniform(*cfg.brightness, generator),
        "contrast": _uniform(*cfg.contrast, generator),
        "saturation": _uniform(*cfg.saturation, generator),
        "hue": _uniform(-cfg.hue, cfg.hue, generator),
    }
    for step in torch.randperm(4, generator=generator).tolist():
        name = ("brightness", "contrast", "saturation", "hue")[step]
        image = _JITTER[name](image, factors[name])
    return image


def _grayscale(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image.unbind(0)
    return (0.299 * r + 0.587 * g + 0.114 * b)[None]


def _brightness(image: torch.Tensor, f: float) -> torch.Tensor:
    return (image * f).clamp_(0, 1)


def _contrast(image: torch.Tensor, f: float) -> torch.Tensor:
    return (_grayscale(image).mean() * (1 - f) + image * f).clamp_(0, 1)


def _saturation(image: torch.Tensor, f: float) -> torch.Tensor:
    return (_grayscale(image) * (1 - f) + image * f).clamp_(0, 1)


def _hue(image: torch.Tensor, shift: float) -> torch.Tensor:
    if shift == 0:
        return image
    hsv = rgb_to_hsv(image)
    hsv[0] = (hsv[0] + shift) % 1.0
    return hsv_to_rgb(hsv)


_JITTER = {"brightness": _brightness, "contrast": _contrast, "saturation": _saturation, "hue": _hue}


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """``3 x H x W`` RGB in [0, 1] -> HSV, all three channels in [0, 1] (hue in turns)."""
    r, g, b = image.unbind(0)
    maxc, minc = image.max(dim=0).values, image.min(dim=0).values
    delta = maxc - minc
    sat = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    d = delta.clamp(min=1e-12)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    return torch.stack([hue, sat, maxc])


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """``3 x H x W`` HSV in [0, 1] -> RGB in [0, 1]."""
    h, s, v = hsv.unbind(0)
    h6 = h * 6.0
    sector = torch.floor(h6)
    f = h6 - sector
    sector = sector.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = torch.stack([
        torch.stack([v, q, p, p, t, v]), torch.stack([t, v, v, q, p, p]), torch.stack([p, p, t, v, v, q]),
    ])  # 3 x 6 x H x W
    index = sector[None, None].expand(3, 1, *sector.shape)
    return torch.gather(table, 1, index)[:, 0].clamp_(0, 1)
