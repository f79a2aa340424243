"""FP-LIIF Labels to Mask: a parsing + labels or groups ("hair", "face,ears") -> MASK, soft or hard,
grown or shrunk, feathered, inverted; optionally only the largest face."""

from __future__ import annotations

import torch

from .common import CATEGORY, PARSING_TYPE, FaceParsing, fpliif, io, masks

__all__ = ["MASK_MODES", "labels_to_mask", "picker_table"]

MASK_MODES = ["soft", "hard"]
MAX_PIXELS = 512
FACE_REGION_MARGIN = 2  # px the largest-face region is grown by, so soft edges at its border survive


def labels_to_mask(parsing: FaceParsing, labels: str, mode: str = "soft", grow: int = 0, feather: float = 0.0,
                   invert: bool = False, largest_face_only: bool = False) -> torch.Tensor:
    """One mask per parsed frame: ``B x H x W`` float in [0, 1].

    Args:
        parsing: the output of Parse Faces.
        labels: labels, groups or ids, comma-separated (``"hair"``, ``"skin,nose"``, ``"face,ears"``); they
            combine into one mask.
        mode: ``soft`` sums the selected classes' probabilities (smooth, anti-aliased edges); ``hard`` is 1
            where the most likely class is selected.
        grow: pixels to grow (> 0) or shrink (< 0) the mask by.
        feather: width in pixels of the soft edge added by a Gaussian blur.
        invert: give everything except the selection.
        largest_face_only: keep only the selection that lies on the largest face (by area).
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mode must be one of {MASK_MODES}, got {mode!r}")
    parsing.label_set.resolve(labels)  # raises KeyError naming the valid labels and groups
    out = []
    for index in range(len(parsing)):
        result = parsing.result(index)
        mask = result.mask(labels, soft=mode == "soft")
        if largest_face_only:
            mask = mask * _largest_face(result)
        out.append(mask)
    return masks.refine_mask(torch.stack(out), grow=int(grow), feather=float(feather), invert=bool(invert))


def _largest_face(result: fpliif.ParseResult) -> torch.Tensor:
    """``H x W`` float: 1 on the largest connected non-background region (one person), else 0."""
    region = masks.largest_region((result.labels != 0)[None]).float()
    return masks.grow_mask(region, FACE_REGION_MARGIN)[0]


def picker_table(label_set: fpliif.LabelSet = fpliif.CELEBAMASK_HQ) -> dict:
    """Names, colours and groups for the web label picker (sent with the node definition)."""
    return {
        "labels": [{"name": n, "color": c} for n, c in zip(label_set.names, label_set.hex_colors)],
        "groups": {g: list(members) for g, members in label_set.groups.items()},
    }


if io is not None:

    class LabelsToMask(io.ComfyNode):
        """The ComfyUI node around :func:`labels_to_mask`."""

        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(
                node_id="FPLIIF_LabelsToMask",
                display_name="FP-LIIF Labels to Mask",
                category=CATEGORY,
                description="Turn a face parsing into a mask of the chosen labels or groups (several combine).",
                inputs=[
                    PARSING_TYPE.Input("parsing"),
                    io.String.Input("labels", default="hair",
                                    tooltip="comma-separated labels or groups, e.g. hair or skin,nose or face,ears",
                                    extra_dict={"fpliif_picker": picker_table()}),
                    io.Combo.Input("mode", options=MASK_MODES, default="soft",
                                   tooltip="soft: probabilities, smooth edges; hard: 0 or 1"),
                    io.Int.Input("grow", default=0, min=-MAX_PIXELS, max=MAX_PIXELS, step=1,
                                 tooltip="pixels to grow (positive) or shrink (negative)"),
                    io.Float.Input("feather", default=0.0, min=0.0, max=MAX_PIXELS, step=0.5,
                                   tooltip="soft edge width in pixels"),
                    io.Boolean.Input("invert", default=False),
                    io.Boolean.Input("largest_face_only", default=False,
                                     tooltip="keep only the selection on the largest face"),
                ],
                outputs=[io.Mask.Output(display_name="mask")],
            )

        @classmethod
        def execute(cls, parsing, labels: str, mode: str, grow: int, feather: float, invert: bool,
                    largest_face_only: bool) -> io.NodeOutput:
            return io.NodeOutput(labels_to_mask(parsing, labels, mode, grow, feather, invert, largest_face_only))
