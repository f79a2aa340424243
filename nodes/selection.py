"""Which pixels a node's choices select: labels minus labels, on all faces or some, frame by frame.

Faces are numbered as the library numbers them (largest first, from 0) and as Parse Faces draws them on its
overlay. A frame parsed whole (no face found, or ``whole image``) counts as one face, number 0, covering the
frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import FaceParsing, demo, fpliif

__all__ = ["FaceMasks", "face_count", "select", "ALL_FACES"]

ALL_FACES = "all"


@dataclass
class FaceMasks:
    """The selection in one frame.

    Attributes:
        mask: ``H x W`` float in [0, 1]: the selected labels on the selected faces.
        faces: ``[(face number, H x W mask), ...]``, one per selected face present in the frame.
    """

    mask: torch.Tensor
    faces: list[tuple[int, torch.Tensor]]


def face_count(result: fpliif.ParseResult) -> int:
    """Faces in a frame: those parsed, or 1 for a frame parsed whole."""
    return max(len(result.faces), 1)


def select(parsing: FaceParsing, labels: str, subtract: str = "", faces: str = ALL_FACES,
           soft: bool = True) -> list[FaceMasks]:
    """The selection in every frame: ``labels`` minus ``subtract`` (each comma-separated labels, groups or ids),
    on the faces ``faces`` (see :func:`fpliif.demo.parse_face_numbers`).

    Raises:
        KeyError: an unknown label or group (the message lists the valid ones).
        ValueError: bad face numbers, or a face number that no frame has.
    """
    parsing.label_set.resolve(labels)  # raises KeyError naming the valid labels and groups
    take_away = bool(str(subtract or "").strip(", ;"))
    if take_away:
        parsing.label_set.resolve(subtract)
    numbers = demo.parse_face_numbers(faces)
    most = max(face_count(r) for r in parsing.results)
    if numbers is not None and numbers[-1] >= most:
        raise ValueError(f"no face {numbers[-1]}: the image has {most} face(s), numbered 0..{most - 1} (largest "
                         "first, as on Parse Faces' overlay)" if len(parsing) == 1 else
                         f"no face {numbers[-1]}: no frame has more than {most} face(s) (numbered from 0)")
    out = []
    for result in parsing.results:
        mask = result.mask(labels, soft=soft)
        if take_away:
            mask = (mask - result.mask(subtract, soft=soft)).clamp_(0, 1)
        present = range(face_count(result))
        chosen = [i for i in present if numbers is None or i in numbers]
        per_face = [(i, mask * result.face_region(i) if result.faces else mask) for i in chosen]
        if numbers is not None:
            mask = sum((m for _, m in per_face), torch.zeros_like(mask))
        out.append(FaceMasks(mask, per_face))
    return out
