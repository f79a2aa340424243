"""A parse of one image: label map, soft masks, colour map and overlay, rendered from the decoder on demand.

A :class:`ParseResult` does not hold a logit array for the whole output. It holds *regions*: the whole image
(one region), or one region per detected face, each an encoded face and the map from output pixels to the
decoder's coordinates (:class:`fpliif.render.OutputGrid`). The label map is rendered once, in tiles, and kept
as bytes; a soft mask is rendered when asked for, refining wherever its probabilities are not saturated, so it
is exact at any output size. Memory stays bounded at any size: a tile's logits, plus the label map, plus the
mask being made (at 8192 x 8192, about 0.4 GB).

Where face regions overlap, each output pixel belongs to the face whose crop it lies deepest in, weighted by how
sure that face's parse is that the pixel is part of a person; pixels in no crop are background. Over the outer
band of its crop a face's probabilities fade to background (:func:`_face_probs`), so masks have no square edges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .image import blend, colorize
from .labels import LabelSet
from .render import OutputGrid, RenderOptions, render_dense, render_grid

__all__ = ["ParseResult", "Region", "TILE"]

TILE = 1024  # output pixels per tile side: 19 classes x 1024^2 float32 logits = 80 MB at a time
NO_OWNER = 255
EDGE_BAND = 0.05  # a face's weight fades to 0 over this outer part of its crop (in [-1, 1] units)
# Soft masks are rendered exactly down to 1/256 of the crop side (half an input pixel of a 128-px network, one of a
# 256-px network) wherever a probability changes across a cell. Measured on the astronaut with the small weights
# (fpliif-small.celebamask-hq, 128 px input), largest probability error against the dense decoder: 0.05 at 256 px
# output (0.19 with the label renderer's one input pixel), 0.07 at 1024 px (0.08), for 0.47 s and 0.56 s on one CPU
# thread (0.12 s and 0.19 s): exact to a few percent, at a cost that does not grow with the output size. On a val
# face at 512 px output, pixels within 0.05 of the dense decoder: 128-px round 5 at half an input pixel 99.93%;
# 256-px round 7 at one input pixel 99.90% (at half a pixel 100.00%, for 4x the time; at two pixels 99.28%).
SOFT_EXACT_CROP = 1 / 256


def soft_options(options: RenderOptions, input_size: int) -> RenderOptions:
    """``options`` as a soft mask is rendered with, for a network with ``input_size`` px input: refined where a
    probability changes, exact down to :data:`SOFT_EXACT_CROP` of the crop (``exact_px=None``, always exact, kept)."""
    exact_px = None if options.exact_px is None else SOFT_EXACT_CROP * input_size
    return replace(options, soft=True, exact_px=exact_px)


@dataclass
class Region:
    """A rectangle of the output and how to render its logits.

    Attributes:
        top, left, bottom, right: output pixels covered (end-exclusive).
        render: ``(top, left, height, width, soft) -> K x height x width`` float32 logits of a block of the output
            (absolute output coordinates) that lies inside this region.
        grid: the region's output grid (decoder coordinates of output pixels), for regions that come from an
            aligned face; its pixels outside the crop square are not the face's.
        face: the detected face this region parses (``None`` for the whole image).
    """

    top: int
    left: int
    bottom: int
    right: int
    render: Callable[[int, int, int, int, bool], torch.Tensor]
    grid: OutputGrid | None = None
    face: object | None = None

    def overlap(self, top: int, left: int, bottom: int, right: int) -> tuple[int, int, int, int] | None:
        box = max(top, self.top), max(left, self.left), min(bottom, self.bottom), min(right, self.right)
        return box if box[2] > box[0] and box[3] > box[1] else None

    def depth(self, top: int, left: int, height: int, width: int) -> torch.Tensor:
        """``height x width`` weight in [0, 1]: 1 well inside the crop square, fading to 0 at its edge and beyond."""
        if self.grid is None:
            return torch.ones(height, width)
        coords = self.grid.shifted(top, left).all_coords(height, width, dtype=torch.float64)
        edge = 1 - coords.abs().amax(-1)
        return (edge / EDGE_BAND).clamp_(0, 1).float().view(height, width)


def decoder_region(model, state, grid: OutputGrid, box: tuple[int, int, int, int], options: RenderOptions,
                   mode: str = "fast", face=None, clip: bool = False) -> Region:
    """A :class:`Region` rendering ``state`` (one image) through ``grid`` over the output rectangle ``box``.

    ``grid`` maps the region's own pixels (``(0, 0)`` at ``box``'s top left) to decoder coordinates. ``mode`` is
    ``"fast"`` (coarse to fine; with ``soft`` also refined wherever a probability is not saturated) or
    ``"dense"`` (every pixel). ``clip`` marks the pixels outside the crop square as outside the region.
    """
    top, left, bottom, right = box
    decoder = getattr(model, "decoder", None)

    def render(row: int, col: int, h: int, w: int, soft: bool) -> torch.Tensor:
        sub = grid.shifted(row - top, col - left)
        if not hasattr(decoder, "query_logits"):  # a baseline without the LIIF decoder: its own query
            coords = sub.all_coords(h, w, state.device, state.dtype)
            return model.query(state, coords[None])[0].float().t().reshape(-1, h, w).cpu()
        if mode == "dense":
            return render_dense(decoder, state, sub, h, w, options.chunk)[0].float().cpu()
        opts = soft_options(options, model.cfg.input_size) if soft else options
        return render_grid(decoder, state, sub, h, w, opts)[0].float().cpu()

    absolute = OutputGrid(grid.shifted(-top, -left).affine) if clip else None
    return Region(top, left, bottom, right, render, absolute, face)


def logits_region(logits: torch.Tensor, top: int = 0, left: int = 0) -> Region:
    """A :class:`Region` over logits already computed (``K x H x W``, placed at ``(top, left)``)."""
    h, w = logits.shape[-2:]

    def render(row: int, col: int, bh: int, bw: int, soft: bool) -> torch.Tensor:
        return logits[:, row - top:row - top + bh, col - left:col - left + bw].float()

    return Region(top, left, top + h, left + w, render)


@dataclass
class ParseResult:
    """The parse of one image at its output size.

    Attributes:
        size: output ``(H, W)``.
        label_set: names, colours and groups of the K classes.
        temperature: the model's softmax temperature.
        image: the input, ``3 x h x w`` in [0, 1] at its own size (overlays resize it to the output size).
        regions: what was parsed: the whole image, or one region per face.
        faces: the parsed faces (:class:`fpliif.parser.Face`), largest first; empty when the whole image was
            parsed.
        how: how the image was parsed, in words (``"2 face(s)"``, ``"no face found: parsed the whole image"``).
    """

    size: tuple[int, int]
    label_set: LabelSet
    temperature: float
    image: torch.Tensor
    regions: list[Region]
    faces: list = field(default_factory=list)
    how: str = "whole image"
    tile: int = TILE
    _labels: torch.Tensor | None = field(default=None, repr=False)
    _owner: torch.Tensor | None = field(default=None, repr=False)

    @classmethod
    def from_logits(cls, logits: torch.Tensor, label_set: LabelSet, temperature: float,
                    image: torch.Tensor | None = None) -> ParseResult:
        """A result over logits already computed (``K x H x W``)."""
        image = image if image is not None else torch.zeros(3, *logits.shape[-2:])
        return cls(tuple(logits.shape[-2:]), label_set, temperature, image, [logits_region(logits)])

    # ------------------------------------------------------------------------------------------ labels
    @property
    def labels(self) -> torch.Tensor:
        """``H x W`` int64 class ids (background where no region is)."""
        if self._labels is None:
            self._render_labels()
        return self._labels.long()

    def label_map(self) -> np.ndarray:
        """``H x W`` uint8 class ids, ready to save as a single-channel PNG."""
        if self._labels is None:
            self._render_labels()
        return self._labels.numpy()

    @property
    def owner(self) -> torch.Tensor:
        """``H x W`` uint8: which region (index into :attr:`regions`) each pixel belongs to; 255 for none."""
        if self._owner is None:
            self._render_labels()
        return self._owner

    def _render_labels(self) -> None:
        h, w = self.size
        labels = torch.zeros(h, w, dtype=torch.uint8)
        owner = torch.full((h, w), NO_OWNER, dtype=torch.uint8)
        for (top, left, bottom, right), parts in self._tiles(soft=False):
            best = torch.zeros(bottom - top, right - left)
            for index, (sub, logits) in parts:
                region = self.regions[index]
                if region.grid is None and len(parts) == 1:  # the whole image: nothing to weigh
                    labels[sub[0]:sub[2], sub[1]:sub[3]] = logits.argmax(0).to(torch.uint8)
                    owner[sub[0]:sub[2], sub[1]:sub[3]] = index
                    continue
                probs, depth = _face_probs(region, sub, logits, self.temperature)
                weight = depth * (1 - probs[0] + 0.05)  # deep in its crop, and sure it is part of a person
                y0, x0, y1, x1 = sub[0] - top, sub[1] - left, sub[2] - top, sub[3] - left
                win = weight > best[y0:y1, x0:x1]
                best[y0:y1, x0:x1] = torch.where(win, weight, best[y0:y1, x0:x1])
                labels[sub[0]:sub[2], sub[1]:sub[3]][win] = probs.argmax(0).to(torch.uint8)[win]
                owner[sub[0]:sub[2], sub[1]:sub[3]][win] = index
        self._labels, self._owner = labels, owner

    def _tiles(self, soft: bool) -> Iterator[tuple[tuple[int, int, int, int], list]]:
        """Per output tile: its box and ``[(region index, (region's sub-box, logits)), ...]`` for the regions in it."""
        h, w = self.size
        for top in range(0, h, self.tile):
            for left in range(0, w, self.tile):
                box = (top, left, min(top + self.tile, h), min(left + self.tile, w))
                parts = []
                for index, region in enumerate(self.regions):
                    sub = region.overlap(*box)
                    if sub is not None:
                        logits = region.render(sub[0], sub[1], sub[2] - sub[0], sub[3] - sub[1], soft)
                        parts.append((index, (sub, logits)))
                if parts:
                    yield box, parts

    # ------------------------------------------------------------------------------------------ masks
    def mask(self, selection: str | Iterable[str | int], soft: bool = True, face: int | None = None) -> torch.Tensor:
        """``H x W`` float mask in [0, 1] of the selected labels and groups (e.g. ``"hair"``, ``"face,ears"``).

        ``soft`` gives the summed probability of the selection, rendered exactly where it is not saturated;
        otherwise 1 where the most likely class is selected. ``face`` keeps only that face's pixels (an index
        into :attr:`faces`).
        """
        ids = self.label_set.resolve(selection)
        if not soft:
            out = torch.isin(self.labels, torch.tensor(ids)).float()
        else:
            out = self._reduce(lambda probs: probs[ids].sum(0).clamp_(0, 1))
        return out if face is None else out * self.face_region(face)

    def face_region(self, face: int) -> torch.Tensor:
        """``H x W`` float: 1 on the pixels that belong to face ``face`` (an index into :attr:`faces`), else 0."""
        if not 0 <= face < len(self.faces):
            raise ValueError(f"no face {face}: {len(self.faces)} face(s) were parsed in this image"
                             + (f" ({self.how})" if not self.faces else ""))
        return (self.owner == self.faces[face].region).float()

    @property
    def probs(self) -> torch.Tensor:
        """``K x H x W`` class probabilities (softmax of logits / temperature); background 1 outside the regions.
        Memory: 4 K bytes per output pixel."""
        return self._reduce(lambda probs: probs, channels=len(self.label_set))

    @property
    def logits(self) -> torch.Tensor:
        """``K x H x W`` float32 logits (as rendered for soft masks); outside the regions, a sure background.
        Memory: 4 K bytes per output pixel — prefer :meth:`mask` and :attr:`labels` for large outputs."""
        h, w = self.size
        k = len(self.label_set)
        out = torch.full((k, h, w), -30.0)
        out[0] = 30.0
        owner = self.owner
        for _, parts in self._tiles(soft=True):
            for index, (sub, logits) in parts:
                mine = owner[sub[0]:sub[2], sub[1]:sub[3]] == index
                if self.regions[index].grid is not None:  # faded towards background at the crop's edge
                    probs = _face_probs(self.regions[index], sub, logits, self.temperature)[0]
                    logits = self.temperature * probs.clamp_min(1e-30).log()
                out[:, sub[0]:sub[2], sub[1]:sub[3]][:, mine] = logits[:, mine]
        return out

    def _reduce(self, fn: Callable[[torch.Tensor], torch.Tensor], channels: int = 0) -> torch.Tensor:
        """``fn`` of the probabilities, tile by tile, over the owned pixels; ``fn`` of a sure background elsewhere."""
        h, w = self.size
        k = len(self.label_set)
        background = torch.zeros(k, 1, 1)
        background[0] = 1
        fill = fn(background)
        out = fill.expand(*([channels] if channels else []), h, w).clone()
        owner = self.owner
        for _, parts in self._tiles(soft=True):
            for index, (sub, logits) in parts:
                mine = owner[sub[0]:sub[2], sub[1]:sub[3]] == index
                value = fn(_face_probs(self.regions[index], sub, logits, self.temperature)[0])
                target = out[..., sub[0]:sub[2], sub[1]:sub[3]]
                target[..., mine] = value[..., mine]
        return out

    # ------------------------------------------------------------------------------------------ pictures
    def color_map(self) -> Image.Image:
        """The label map drawn in each class's colour."""
        return Image.fromarray(colorize(self.label_map(), self.label_set.colors))

    def overlay(self, alpha: float = 0.5) -> Image.Image:
        """The colour map blended over the image; background pixels keep the image."""
        labels = self.label_map()
        return Image.fromarray(blend(self.picture(), colorize(labels, self.label_set.colors), alpha, keep=labels == 0))

    def outline(self, width: int = 1) -> Image.Image:
        """The photo with the border of every class drawn in that class's colour: for checking edges."""
        labels = torch.from_numpy(self.label_map())  # uint8: 1 byte per pixel at any size
        across, down = labels[:, 1:] != labels[:, :-1], labels[1:, :] != labels[:-1, :]
        edge = torch.zeros_like(labels, dtype=torch.bool)
        edge[:, 1:] |= across
        edge[:, :-1] |= across
        edge[1:, :] |= down
        edge[:-1, :] |= down
        if width > 1:  # thicker lines: grow the edge inwards and outwards
            edge = F.max_pool2d(edge[None, None].float(), 2 * (width // 2) + 1, stride=1, padding=width // 2)[0, 0] > 0
        drawn = (edge & (labels > 0)).numpy()  # each line in the colour of the class on its side
        picture = self.picture().copy()
        picture[drawn] = np.asarray(self.label_set.colors, dtype=np.uint8)[labels.numpy()[drawn]]
        return Image.fromarray(picture)

    def picture(self) -> np.ndarray:
        """The input at the output size, ``H x W x 3`` uint8."""
        h, w = self.size
        pixels = (self.image.permute(1, 2, 0).float().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        if pixels.shape[:2] == (h, w):
            return pixels
        return np.asarray(Image.fromarray(pixels).resize((w, h), Image.Resampling.BICUBIC))


def _face_probs(region: Region, sub: tuple[int, int, int, int], logits: torch.Tensor,
                temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities of ``region`` over ``sub`` and its depth there. A face's crop says nothing about what
    lies past its edge, so over the crop's outer band (:data:`EDGE_BAND`) its probabilities fade to a sure
    background: a soft mask has no square edge, and a hard one ends where the face's parse fades out."""
    top, left, bottom, right = sub
    probs = torch.softmax(logits / temperature, dim=0)
    depth = region.depth(top, left, bottom - top, right - left)
    if region.grid is not None:
        probs = probs * depth
        probs[0] += 1 - depth
    return probs, depth
