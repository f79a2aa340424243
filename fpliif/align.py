"""Face alignment: a similarity transform between a photo and the aligned face crop the network was trained on.

The default weights were trained on CelebA-HQ crops, where the eyes, nose and mouth sit at nearly fixed places.
A detector's keypoints in a photo (:mod:`fpliif.detect`) and those places (:data:`TEMPLATE`) give the similarity
``photo = s R crop + t`` (least squares, :func:`estimate_alignment`). The network input is the photo resampled
through it (:meth:`Alignment.warp`); the result is painted back by querying the implicit decoder at the photo's
own pixels mapped into the crop (:meth:`Alignment.output_grid`), so the mask is crisp at any photo size and never
a resampled label grid.

Coordinates: crop ``(u, v)`` in [0, 1] across the network input (``u`` to the right, ``v`` down), the decoder's
``(y, x) = (2v - 1, 2u - 1)``; photo ``(x, y)`` in pixels with pixel centres at ``i + 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .detect.template import TEMPLATE_MEAN
from .render import OutputGrid

__all__ = ["Alignment", "estimate_alignment", "TEMPLATE", "TEMPLATE_WEIGHTS"]

# Where the detector's six keypoints sit in the training crops, as (u, v) in [0, 1] (measured on the celebamask-mini
# train faces: see fpliif.detect.template).
TEMPLATE = TEMPLATE_MEAN
# Eyes, nose and mouth fit the transform; the ears are often hidden or out of place when the head turns.
TEMPLATE_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True)
class Alignment:
    """The similarity ``photo (x, y) = A @ (u, v, 1)`` from the crop square ``[0, 1]^2`` to photo pixels.

    Attributes:
        matrix: ``A``, 2 x 3 (float64 values, as nested tuples so the object is hashable and immutable).
    """

    matrix: tuple[tuple[float, float, float], tuple[float, float, float]]

    @property
    def a(self) -> np.ndarray:
        return np.asarray(self.matrix, dtype=np.float64)

    @property
    def scale(self) -> float:
        """Photo pixels across the crop's side."""
        (a, b, _), _ = self.matrix
        return math.hypot(a, b)

    @property
    def angle(self) -> float:
        """Rotation of the face in the photo, degrees (counter-clockwise in image coordinates = clockwise seen)."""
        (a, _, _), (c, _, _) = self.matrix
        return math.degrees(math.atan2(c, a))

    def to_photo(self, uv: np.ndarray) -> np.ndarray:
        """``N x 2`` crop points ``(u, v)`` -> photo ``(x, y)``."""
        uv = np.asarray(uv, dtype=np.float64)
        return uv @ self.a[:, :2].T + self.a[:, 2]

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        """``N x 2`` photo points ``(x, y)`` -> crop ``(u, v)``."""
        inv = np.linalg.inv(self.a[:, :2])
        return (np.asarray(xy, dtype=np.float64) - self.a[:, 2]) @ inv.T

    def corners(self) -> np.ndarray:
        """The crop square's four corners in the photo: ``4 x 2`` ``(x, y)``."""
        return self.to_photo(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64))

    def region(self, height: int, width: int, out_h: int | None = None, out_w: int | None = None,
               margin: int = 1) -> tuple[int, int, int, int] | None:
        """The output pixels ``(top, left, bottom, right)`` (end-exclusive) the crop covers in an ``out_h x out_w``
        rendering of a ``height x width`` photo; ``None`` if it misses the photo."""
        out_h, out_w = out_h or height, out_w or width
        xy = self.corners() * np.array([out_w / width, out_h / height])
        left, top = np.floor(xy.min(0)).astype(int) - margin
        right, bottom = np.ceil(xy.max(0)).astype(int) + margin
        top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, out_h), min(right, out_w)
        return (int(top), int(left), int(bottom), int(right)) if bottom > top and right > left else None

    def output_grid(self, height: int, width: int, out_h: int, out_w: int, top: int = 0, left: int = 0) -> OutputGrid:
        """The decoder coordinates of output pixels: pixel ``(i, j)`` of a block starting at ``(top, left)`` of an
        ``out_h x out_w`` rendering of the ``height x width`` photo, mapped into the crop."""
        sy, sx = height / out_h, width / out_w
        # photo (x, y) of block pixel (i + 0.5, j + 0.5): x = sx * (j + 0.5 + left), y = sy * (i + 0.5 + top)
        to_photo = np.array([[0.0, sx, sx * left], [sy, 0.0, sy * top]])  # rows: x, y; columns: i, j, 1
        inv = np.linalg.inv(self.a[:, :2])
        uv = inv @ to_photo  # crop (u, v) = inv (photo - t)
        uv[:, 2] -= inv @ self.a[:, 2]
        yx = 2 * uv[[1, 0]]  # decoder (y, x) = 2 (v, u) - 1
        yx[:, 2] -= 1
        return OutputGrid(tuple(tuple(float(v) for v in row) for row in yx))

    def warp(self, image: torch.Tensor, size: int) -> torch.Tensor:
        """The network input: the crop square of ``image`` (``3 x H x W`` in [0, 1]) resampled to ``size x size``.

        Areas outside the photo are black (as the training augmentation's borders). When the crop is larger than
        ``size`` the photo region is first shrunk with an antialiased resize, so a big face does not alias.
        """
        h, w = image.shape[-2:]
        box = self.region(h, w, margin=3)
        if box is None:
            return image.new_zeros(3, size, size)
        top, left, bottom, right = box
        region = image[:, top:bottom, left:right]
        shrink = self.scale / size  # photo pixels per input pixel
        if shrink > 1.25:
            new = (max(2, round((bottom - top) / shrink)), max(2, round((right - left) / shrink)))
            region = F.interpolate(region[None], size=new, mode="bilinear", antialias=True, align_corners=False)[0]
        rh, rw = region.shape[-2:]
        # input pixel centre (u, v) -> photo (x, y) -> region-normalised [-1, 1] for grid_sample (x first)
        centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
        v, u = torch.meshgrid(centres, centres, indexing="ij")
        a = torch.as_tensor(self.a)
        x = a[0, 0] * u + a[0, 1] * v + a[0, 2]
        y = a[1, 0] * u + a[1, 1] * v + a[1, 2]
        gx = (x - left) / (right - left) * 2 - 1
        gy = (y - top) / (bottom - top) * 2 - 1
        grid = torch.stack([gx, gy], dim=-1)[None].to(image.dtype)
        out = F.grid_sample(region[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return out[0].clamp_(0, 1)


def estimate_alignment(landmarks: np.ndarray, template: Sequence[Sequence[float]] = TEMPLATE,
                       weights: Sequence[float] = TEMPLATE_WEIGHTS) -> Alignment:
    """The similarity (scale, rotation, shift; no reflection) that best maps ``template`` onto ``landmarks``.

    Args:
        landmarks: ``K x 2`` photo points ``(x, y)`` in the order of ``template``.
        template: ``K x 2`` crop points ``(u, v)``.
        weights: per point, for the least squares (0 leaves a point out).

    Returns:
        The :class:`Alignment` minimising ``sum_k w_k |A t_k - p_k|^2`` (weighted Umeyama, 1991).
    """
    p = np.asarray(landmarks, dtype=np.float64)
    t = np.asarray(template, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if p.shape != t.shape or len(w) != len(t):
        raise ValueError(f"landmarks {p.shape} must match the template {t.shape} and weights ({len(w)})")
    w = w / w.sum()
    mp, mt = w @ p, w @ t
    pc, tc = p - mp, t - mt
    cov = (pc * w[:, None]).T @ tc  # 2 x 2
    u, s, vt = np.linalg.svd(cov)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    var = (w * (tc ** 2).sum(1)).sum()
    scale = (s * np.diag(d)).sum() / var
    lin = scale * rot
    shift = mp - lin @ mt
    matrix = np.concatenate([lin, shift[:, None]], axis=1)
    return Alignment(tuple(tuple(float(v) for v in row) for row in matrix))
