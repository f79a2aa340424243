"""FP-LIIF Labels to Mask: a parsing + labels or groups ("hair", "face,ears"), minus others ("eyes,brows"), on all
faces or chosen ones -> one MASK per frame, one MASK per face, and Impact Pack SEGS; soft or hard, grown or shrunk,
feathered, inverted."""

from __future__ import annotations

from typing import NamedTuple

import torch

from .common import CATEGORY, PARSING_TYPE, SEGS_TYPE, FaceParsing, io, labels_input, masks
from .segs import faces_to_segs
from .selection import ALL_FACES, FaceMasks, select

__all__ = ["MASK_MODES", "labels_to_mask", "MaskOutputs"]

MASK_MODES = ["soft", "hard"]
MAX_PIXELS = 512


class MaskOutputs(NamedTuple):
    """What Labels to Mask gives."""

    mask: torch.Tensor  # B x H x W: the selection in each frame
    face_masks: torch.Tensor  # N x H x W: one per selected face, frame by frame (one empty mask if none)
    segs: tuple  # Impact Pack SEGS: ((H, W), [SEG, ...])


def labels_to_mask(parsing: FaceParsing, labels: str, mode: str = "soft", grow: int = 0, feather: float = 0.0,
                   invert: bool = False, faces: str = ALL_FACES, subtract: str = "") -> MaskOutputs:
    """The selection as masks.

    Args:
        parsing: the output of Parse Faces.
        labels: labels, groups or ids, comma-separated (``"hair"``, ``"skin,nose"``, ``"face,ears"``, display
            names such as ``"upper lip"`` too); they combine into one mask.
        mode: ``soft`` sums the selected classes' probabilities (smooth, anti-aliased edges); ``hard`` is 1
            where the most likely class is selected.
        grow: pixels to grow (> 0) or shrink (< 0) the mask by.
        feather: width in pixels of the soft edge added by a Gaussian blur.
        invert: give everything except the selection.
        faces: ``"all"``, ``"largest"``, or face numbers (``"0"``, ``"0,2"``; largest first, as numbered on
            Parse Faces' overlay).
        subtract: labels or groups taken away from ``labels`` (``labels="face"``, ``subtract="eyes,brows"``).
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mode must be one of {MASK_MODES}, got {mode!r}")
    selections = select(parsing, labels, subtract, faces, soft=mode == "soft")

    def refine(mask: torch.Tensor) -> torch.Tensor:
        return masks.refine_mask(mask[None], grow=int(grow), feather=float(feather), invert=bool(invert))[0]

    refined = [FaceMasks(refine(s.mask), [(n, refine(m)) for n, m in s.faces]) for s in selections]
    mask = torch.stack([s.mask for s in refined])
    per_face = [m for s in refined for _, m in s.faces]
    face_masks = torch.stack(per_face) if per_face else torch.zeros(1, *parsing.size)
    return MaskOutputs(mask, face_masks, faces_to_segs(parsing, refined))


if io is not None:

    class LabelsToMask(io.ComfyNode):
        """The ComfyUI node around :func:`labels_to_mask`."""

        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(
                node_id="FPLIIF_LabelsToMask",
                display_name="FP-LIIF Labels to Mask",
                category=CATEGORY,
                description="Turn a face parsing into masks of the chosen labels or groups (several combine), minus "
                            "others, on all faces or chosen ones: one mask per frame, one per face, and SEGS for "
                            "Impact Pack's detailers.",
                inputs=[
                    PARSING_TYPE.Input("parsing", tooltip="the parsing from FP-LIIF Parse Faces"),
                    labels_input("hair", "labels or groups to include, comma-separated (click the chips): e.g. "
                                            "hair, or skin,nose, or face,ears; names such as 'upper lip' work too"),
                    io.String.Input("subtract", default="",
                                    tooltip="labels or groups to take away from the mask (shift-click a chip): "
                                            "e.g. labels face, subtract eyes,brows; empty: nothing"),
                    io.String.Input("faces", default=ALL_FACES,
                                    tooltip="which faces: all, largest, or face numbers such as 0 or 0,2 "
                                            "(largest first, as numbered on Parse Faces' overlay)"),
                    io.Combo.Input("mode", options=MASK_MODES, default="soft",
                                   tooltip="soft: summed probabilities, smooth anti-aliased edges; hard: 0 or 1"),
                    io.Int.Input("grow", default=0, min=-MAX_PIXELS, max=MAX_PIXELS, step=1,
                                 tooltip="pixels to grow the mask by (negative shrinks it)"),
                    io.Float.Input("feather", default=0.0, min=0.0, max=MAX_PIXELS, step=0.5,
                                   tooltip="width of the soft edge in pixels (a Gaussian blur); 0: none"),
                    io.Boolean.Input("invert", default=False,
                                     tooltip="give everything except the selection"),
                ],
                outputs=[
                    io.Mask.Output(display_name="mask",
                                   tooltip="one mask per frame (B x H x W) at the parsing's size: the selected "
                                           "labels on the selected faces"),
                    io.Mask.Output(display_name="face_masks",
                                   tooltip="one mask per selected face, frame after frame (faces in order of "
                                           "their number); one empty mask if no face is selected"),
                    SEGS_TYPE.Output(display_name="segs",
                                     tooltip="the faces' masks as SEGS (head, hair and neck crops) for Impact "
                                             "Pack's detailers and SEGS nodes"),
                ],
            )

        @classmethod
        def execute(cls, parsing, labels: str, subtract: str, faces: str, mode: str, grow: int, feather: float,
                    invert: bool) -> io.NodeOutput:
            out = labels_to_mask(parsing, labels, mode, grow, feather, invert, faces, subtract)
            return io.NodeOutput(*out)
