"""Per-face masks as Impact Pack's ``SEGS``, so its detailers (Detailer (SEGS), SEGS Paste, ...) take FP-LIIF's faces,
without importing Impact Pack.

``SEGS`` is ``((height, width), [SEG, ...])`` with ``SEG`` the namedtuple below, field for field as Impact Pack's
``modules/impact/core.py`` defines it. Impact Pack checks fields, not the class, so an equal namedtuple works.
For one image each SEG's ``cropped_mask`` is an ``h x w`` float32 array; for a batch (video) there is one SEG per
face number whose ``cropped_mask`` is ``B x h x w`` over the union of the frames' crops (the form its AnimateDiff
detailers read).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import torch

from .common import FaceParsing, fpliif
from .selection import FaceMasks

__all__ = ["SEG", "faces_to_segs", "crop_region"]

SEG = namedtuple("SEG", ["cropped_image", "cropped_mask", "confidence", "crop_region", "bbox", "label",
                         "control_net_wrapper"], defaults=[None])
LABEL = "face"  # the label Impact Pack's label filters use for faces


def _to_output(box, result: fpliif.ParseResult) -> list[int]:
    """A photo-pixel box ``(x0, y0, x1, y1)`` -> whole output pixels, clipped to the output."""
    out_h, out_w = result.size
    h, w = result.image.shape[-2:]
    sx, sy = out_w / w, out_h / h
    x0, y0, x1, y1 = box
    return [int(np.clip(np.floor(x0 * sx), 0, out_w)), int(np.clip(np.floor(y0 * sy), 0, out_h)),
            int(np.clip(np.ceil(x1 * sx), 0, out_w)), int(np.clip(np.ceil(y1 * sy), 0, out_h))]


def crop_region(result: fpliif.ParseResult, face: int) -> tuple[list[int], list[int], float]:
    """``(crop_region, bbox, confidence)`` of a face in output pixels: the crop is the parsed head, hair and neck;
    the box the detector's (brows to chin). A frame parsed whole is one face covering it."""
    if not result.faces:
        out_h, out_w = result.size
        return [0, 0, out_w, out_h], [0, 0, out_w, out_h], 1.0
    found = result.faces[face]
    return _to_output(found.crop_box, result), _to_output(found.box, result), float(found.score)


def faces_to_segs(parsing: FaceParsing, selections: list[FaceMasks]) -> tuple:
    """The selected faces' masks as ``SEGS`` (see the module docstring)."""
    out_h, out_w = parsing.size
    if len(parsing) == 1:
        result, picture = parsing[0], None
        segs = []
        for number, mask in selections[0].faces:
            region, bbox, score = crop_region(result, number)
            x0, y0, x1, y1 = region
            if x1 <= x0 or y1 <= y0:
                continue
            picture = result.picture() if picture is None else picture
            image = torch.from_numpy(picture[y0:y1, x0:x1].astype(np.float32) / 255)[None]
            segs.append(SEG(image, mask[y0:y1, x0:x1].numpy().astype(np.float32), score, region, bbox, LABEL))
        return (out_h, out_w), segs
    numbers = sorted({n for frame in selections for n, _ in frame.faces})
    segs = []
    for number in numbers:
        boxes = [crop_region(r, number) for r, frame in zip(parsing.results, selections)
                 if any(n == number for n, _ in frame.faces)]
        x0, y0 = min(b[0][0] for b in boxes), min(b[0][1] for b in boxes)
        x1, y1 = max(b[0][2] for b in boxes), max(b[0][3] for b in boxes)
        if x1 <= x0 or y1 <= y0:
            continue
        stack = np.zeros((len(parsing), y1 - y0, x1 - x0), dtype=np.float32)
        for k, frame in enumerate(selections):
            for n, mask in frame.faces:
                if n == number:
                    stack[k] = mask[y0:y1, x0:x1].numpy()
        bbox = [min(b[1][0] for b in boxes), min(b[1][1] for b in boxes),
                max(b[1][2] for b in boxes), max(b[1][3] for b in boxes)]
        segs.append(SEG(None, stack, max(b[2] for b in boxes), [x0, y0, x1, y1], bbox, LABEL))
    return (out_h, out_w), segs
