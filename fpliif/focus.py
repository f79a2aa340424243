"""Zoom to the largest face: parse coarsely, crop around the biggest head, parse the crop at full detail.

The network sees every image at ``cfg.input_size`` (256 px) after padding to square, so a face that fills a
fifth of a 2048 px photo gets about 50 px of the encoder's attention. Cropping to the face first gives it the
whole input, and the arbitrary-resolution decoder then paints the crop at the photo's own pixel density.
Everything outside the crop is background, which also makes this the "largest face only" mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .masks import largest_region
from .parser import FaceParser, ParseResult, output_size

__all__ = ["parse_largest_face", "face_box", "NOT_FACE"]

NOT_FACE = ("background", "cloth", "neck", "neck_l")  # what does not count towards the head's box
COARSE_SIDE = 256
BACKGROUND_LOGIT = 30.0  # outside the crop: background with probability ~1


def face_box(result: ParseResult, margin: float = 0.3) -> tuple[float, float, float, float] | None:
    """``(top, left, bottom, right)`` of the largest head in ``result``, as fractions of the image, grown by
    ``margin`` times its size on each side and made square where the image allows; ``None`` if no face."""
    names = result.label_set.names
    head_ids = [i for i, n in enumerate(names) if n not in NOT_FACE]
    head = torch.isin(result.labels, torch.tensor(head_ids))
    head = largest_region(head[None])[0]
    if not head.any():
        return None
    ys, xs = head.nonzero(as_tuple=True)
    h, w = head.shape
    top, bottom = ys.min().item() / h, (ys.max().item() + 1) / h
    left, right = xs.min().item() / w, (xs.max().item() + 1) / w
    cy, cx = (top + bottom) / 2, (left + right) / 2
    side_px = max((bottom - top) * h, (right - left) * w) * (1 + 2 * margin)
    half_h, half_w = side_px / (2 * h), side_px / (2 * w)
    return max(0.0, cy - half_h), max(0.0, cx - half_w), min(1.0, cy + half_h), min(1.0, cx + half_w)


def parse_largest_face(parser: FaceParser, image: torch.Tensor, size=None, margin: float = 0.3) -> ParseResult:
    """Parse ``image`` (``3 x H x W`` in [0, 1]) by zooming in on its largest face.

    Args:
        parser: the face parser.
        image: one image, ``3 x H x W`` float in [0, 1].
        size: output size as for :class:`FaceParser` (default: the image's own size).
        margin: context kept around the head, as a fraction of its size on each side.

    Returns:
        A :class:`ParseResult` at the output size; pixels outside the face crop are background.
        Without any face found, the plain whole-image parse.
    """
    coarse = parser(image, size=min(COARSE_SIDE, max(image.shape[-2:])))
    box = face_box(coarse, margin)
    out_h, out_w = output_size(tuple(image.shape[-2:]), size)
    if box is None:
        return parser(image, size=(out_h, out_w))
    h, w = image.shape[-2:]
    y0, x0 = int(box[0] * h), int(box[1] * w)
    y1, x1 = max(y0 + 2, round(box[2] * h)), max(x0 + 2, round(box[3] * w))
    oy0, ox0 = round(y0 * out_h / h), round(x0 * out_w / w)
    oy1, ox1 = max(oy0 + 1, round(y1 * out_h / h)), max(ox0 + 1, round(x1 * out_w / w))
    crop = parser(image[:, y0:y1, x0:x1], size=(oy1 - oy0, ox1 - ox0))
    logits = torch.full((len(parser.label_set), out_h, out_w), -BACKGROUND_LOGIT)
    logits[0] = BACKGROUND_LOGIT
    logits[:, oy0:oy1, ox0:ox1] = crop.logits
    full = image if (out_h, out_w) == (h, w) else F.interpolate(
        image[None], size=(out_h, out_w), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)
    return ParseResult(logits, parser.label_set, parser.cfg.temperature, full)
