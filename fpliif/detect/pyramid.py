"""An image pyramid for a fully convolutional detector: the whole photo letterboxed, plus finer full images.

Level 0 is the photo letterboxed into one ``input_size`` square, exactly what MediaPipe feeds BlazeFace: it
finds the large faces. Each finer level is the whole photo at a larger scale, run through the network as one
big input. BlazeFace is convolutional, so this equals tiling the scaled photo into ``input_size`` windows that
overlap completely (no face is ever cut by a tile edge), at the cost of the photo's pixels only once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Level", "plan_scales", "pyramid_inputs", "pad_input", "NETWORK_STRIDE"]

NETWORK_STRIDE = 32  # an input side must be a multiple of this for BlazeFace's pyramid to line up


@dataclass(frozen=True)
class Level:
    """Where the photo sits in one network input: ``network = image * scale + offset`` per axis."""

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_image(self, points: torch.Tensor) -> torch.Tensor:
        """Network-input pixels ``... x 2`` (x, y) -> image pixels."""
        offset = points.new_tensor([self.offset_x, self.offset_y])
        scale = points.new_tensor([self.scale_x, self.scale_y])
        return (points - offset) / scale


def plan_scales(
    height: int, width: int, input_size: int, min_face: float, face_px: float, level_ratio: float
) -> list[float]:
    """Scales (network pixels per image pixel), coarsest first.

    The coarsest fits the whole photo in ``input_size``; the finest shows a ``min_face`` face at ``face_px``
    network pixels (never above 1: no upsampling); between them scales step by at most ``level_ratio``.
    """
    coarse = input_size / max(height, width)
    fine = min(1.0, face_px / min_face)
    if fine <= coarse * 1.05:
        return [coarse]
    steps = math.ceil(math.log(fine / coarse) / math.log(level_ratio) - 1e-9)
    return [coarse * (fine / coarse) ** (k / steps) for k in range(steps + 1)]


def pyramid_inputs(image: torch.Tensor, scales: list[float], input_size: int) -> list[tuple[torch.Tensor, Level]]:
    """``3 x H x W`` in [0, 1] -> per scale (coarsest first) a ``1 x 3 x h x w`` input in [-1, 1] and its Level.

    Each level is resized from the next finer one rather than from the photo, so a 4K photo is read once.
    """
    _, height, width = image.shape
    inputs, source = [], image
    for k in reversed(range(len(scales))):
        h, w = max(1, round(height * scales[k])), max(1, round(width * scales[k]))
        source = source if (h, w) == tuple(source.shape[1:]) else _resize(source, h, w)
        net_input, left, top = pad_input(source, input_size, letterbox=k == 0)
        inputs.append((net_input, Level(w / width, h / height, float(left), float(top))))
    return inputs[::-1]


def pad_input(scaled: torch.Tensor, input_size: int, letterbox: bool) -> tuple[torch.Tensor, int, int]:
    """A scaled photo ``3 x h x w`` -> network input ``1 x 3 x h' x w'`` in [-1, 1], and the photo's left/top.

    ``letterbox``: centre it in an ``input_size`` square, as MediaPipe does. Otherwise pad it bottom/right to a
    multiple of :data:`NETWORK_STRIDE`. The padding is black, MediaPipe's letterbox border.
    """
    _, h, w = scaled.shape
    if letterbox:
        side_h = side_w = max(input_size, _round_up(max(h, w)))
        left, top = (side_w - w) // 2, (side_h - h) // 2
    else:
        side_h, side_w, left, top = _round_up(h), _round_up(w), 0, 0
    padded = F.pad(scaled * 2 - 1, (left, side_w - w - left, top, side_h - h - top), value=-1.0)
    return padded[None], left, top


def _round_up(n: int) -> int:
    return -(-n // NETWORK_STRIDE) * NETWORK_STRIDE


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize, antialiased when shrinking (a 4K photo to 192 px would alias badly otherwise)."""
    shrink = height < image.shape[1] or width < image.shape[2]
    return F.interpolate(image[None], size=(height, width), mode="bilinear", align_corners=False, antialias=shrink)[0]
