"""FP-LIIF Cut Out: the selected labels of the photo over transparency (an RGBA IMAGE) or over a colour."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .common import CATEGORY, PARSING_TYPE, FaceParsing, image_to_frames, io, labels_input, masks
from .selection import ALL_FACES, select

__all__ = ["BACKGROUNDS", "cut_out", "CutOut"]

# Background -> RGB in [0, 1]; "transparent" keeps an alpha channel instead.
BACKGROUNDS = {"transparent": None, "white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "grey": (0.5, 0.5, 0.5),
               "green screen": (0.0, 0.69, 0.25)}


class CutOutputs(NamedTuple):
    image: torch.Tensor  # IMAGE B x H x W x 4 (transparent) or x 3 (over a colour)
    alpha: torch.Tensor  # MASK B x H x W


def cut_out(parsing: FaceParsing, labels: str, subtract: str = "", faces: str = ALL_FACES, soft: bool = True,
            background: str = "transparent", image: torch.Tensor | None = None) -> CutOutputs:
    """The selection (as :func:`nodes.selection.select`) cut out of the photo.

    Args:
        soft: anti-aliased edges (see :func:`soft_edges`); otherwise hard 0/1 edges.
        background: a key of :data:`BACKGROUNDS`; ``transparent`` gives RGBA (Save Image writes a transparent
            PNG), the others the photo blended over that colour.
        image: the pixels to cut out (resized to the parsing's size); default the parsed photo.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {list(BACKGROUNDS)}, got {background!r}")
    alpha = torch.stack([s.mask for s in select(parsing, labels, subtract, faces, soft=False)])
    if soft:
        soft_alpha = torch.stack([s.mask for s in select(parsing, labels, subtract, faces, soft=True)])
        alpha = soft_edges(alpha, soft_alpha, max(2, round(max(parsing.size) / 400)))
    sources = image_to_frames(image) if image is not None else [r.image for r in parsing.results]
    if len(sources) not in (1, len(parsing)):
        raise ValueError(f"the image has {len(sources)} frames but the parsing {len(parsing)}")
    pictures = []
    for k in range(len(parsing)):
        source = sources[k if len(sources) > 1 else 0]
        if tuple(source.shape[-2:]) != parsing.size:
            source = F.interpolate(source[None], size=parsing.size, mode="bicubic", antialias=True)[0].clamp(0, 1)
        pictures.append(source.movedim(0, -1))
    rgb = torch.stack(pictures)
    color = BACKGROUNDS[background]
    if color is None:
        return CutOutputs(torch.cat([rgb, alpha[..., None]], dim=-1), alpha)
    a = alpha[..., None]
    return CutOutputs(rgb * a + torch.tensor(color) * (1 - a), alpha)


def soft_edges(hard: torch.Tensor, soft: torch.Tensor, pixels: int) -> torch.Tensor:
    """``B x H x W`` alpha: the soft mask within ``pixels`` of the hard mask's border (anti-aliased edges), the hard
    mask elsewhere (no faint haze of low probabilities over the background and inside the selection)."""
    band = masks.grow_mask(hard, pixels) - masks.grow_mask(hard, -pixels) > 0.5
    return torch.where(band, soft, hard)


if io is not None:

    class CutOut(io.ComfyNode):
        """The ComfyUI node around :func:`cut_out`."""

        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(
                node_id="FPLIIF_CutOut",
                display_name="FP-LIIF Cut Out",
                category=CATEGORY,
                description="Cut the chosen labels out of the photo: over transparency (RGBA; Save Image writes a "
                            "transparent PNG) or over a colour.",
                inputs=[
                    PARSING_TYPE.Input("parsing", tooltip="the parsing from FP-LIIF Parse Faces"),
                    labels_input("head", "labels or groups to keep, comma-separated (click the chips): e.g. "
                                            "head, or person, or face,hair"),
                    io.String.Input("subtract", default="",
                                    tooltip="labels or groups to leave out (shift-click a chip); empty: nothing"),
                    io.String.Input("faces", default=ALL_FACES,
                                    tooltip="which faces: all, largest, or face numbers such as 0 or 0,2 "
                                            "(as numbered on Parse Faces' overlay)"),
                    io.Boolean.Input("soft_edges", default=True,
                                     tooltip="on: anti-aliased edges (probabilities near the border); off: hard 0/1"),
                    io.Combo.Input("background", options=list(BACKGROUNDS), default="transparent",
                                   tooltip="transparent gives an RGBA image; a colour blends the cut-out over it"),
                    io.Image.Input("image", optional=True,
                                   tooltip="optional: cut out of this image instead of the parsed one (resized "
                                           "to the parsing's size)"),
                ],
                outputs=[
                    io.Image.Output(display_name="image",
                                    tooltip="the cut-out: RGBA over transparency, or RGB over the colour"),
                    io.Mask.Output(display_name="alpha", tooltip="the cut-out's alpha (the selection's mask)"),
                ],
            )

        @classmethod
        def execute(cls, parsing, labels: str, subtract: str, faces: str, soft_edges: bool, background: str,
                    image=None) -> io.NodeOutput:
            return io.NodeOutput(*cut_out(parsing, labels, subtract, faces, soft_edges, background, image))
