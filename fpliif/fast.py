"""Fast FP-LIIF rendering: the same predictions as the dense decoder at a fraction of the cost.

Two ideas, both exact where they evaluate the network:

1. **Split first layer.** The first MLP layer is linear in ``[cell feature, global feature, relative coord]``,
   so its cell and global parts are computed once per latent cell (:func:`precompute`: a ``(B*h*w) x H1``
   table) and each query only gathers a row and adds ``W_rel @ rel`` (:func:`fast_query`). The result equals
   :meth:`LIIFDecoder.query_logits` up to float rounding.
2. **Coarse to fine.** :func:`render_grid` evaluates the implicit function on a coarse grid (about one sample
   per latent cell), upsamples the logits bilinearly, and re-evaluates exactly only the points of cells whose
   corners disagree on the label or are uncertain (small top-2 probability margin); level by level, down to
   the output grid. Below ``exact_px`` output pixels per sample the remaining levels are bilinear only
   (the function is piecewise smooth inside a latent cell), which keeps 1024-2048 px outputs cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .models.decoder import ENSEMBLE_SHIFTS, DecoderState, LIIFDecoder, nearest_cell

__all__ = ["FastOptions", "FastState", "GridAxes", "precompute", "fast_query", "render_grid", "RenderStats"]


@dataclass
class FastOptions:
    """Knobs of the coarse-to-fine renderer.

    Attributes:
        coarse: first-level samples per latent cell along each axis (1: one sample per cell).
        margin: a corner whose top-2 probability margin is below this marks its cells for refinement.
        soft: also refine wherever the top class probability is below ``1 - saturation``, so soft masks
            (probabilities) are exact there too, not only the arg-max labels.
        saturation: see ``soft``.
        dilate: also refine the cells next to a marked cell (catches thin structures).
        exact_px: evaluate exactly down to this many output pixels per sample *relative to the network
            input* (1.0: every input-resolution pixel is exact; finer levels are bilinear). ``None``: exact
            down to every output pixel.
        chunk: queries per network call (bounds memory).
    """

    coarse: float = 1.0
    margin: float = 0.1
    soft: bool = False
    saturation: float = 1e-3
    dilate: bool = False
    exact_px: float | None = 1.0
    chunk: int = 16384


@dataclass
class FastState:
    """Per-image tables for :func:`fast_query`.

    Attributes:
        table: ``(B*h*w) x H1``: first-layer pre-activation of every latent cell, global part and bias included.
        w_rel: ``H1 x 2``: first-layer weight of the relative coordinate.
        grid: latent grid ``(h, w)``.
        batch: ``B``.
    """

    table: torch.Tensor
    w_rel: torch.Tensor
    grid: tuple[int, int]
    batch: int


@dataclass
class RenderStats:
    """How much work :func:`render_grid` did: network queries and the dense equivalent."""

    queries: int = 0
    dense_queries: int = 0
    levels: int = 0
    exact: torch.Tensor | None = field(default=None, repr=False)  # out_h x out_w: True where evaluated exactly

    @property
    def fraction(self) -> float:
        return self.queries / max(self.dense_queries, 1)


def precompute(decoder: LIIFDecoder, state: DecoderState) -> FastState:
    """Fold the cell-feature and global parts of the first MLP layer into a per-cell table."""
    first = decoder.mlp.layers[0]
    b, d, h, w = state.features.shape
    g = state.global_feature.shape[1]
    weight = first.weight
    w_feat, w_glob, w_rel = weight[:, :d], weight[:, d:d + g], weight[:, d + g:]
    cells = state.features.permute(0, 2, 3, 1).reshape(b, h * w, d) @ w_feat.t()
    glob = torch.addmm(first.bias, state.global_feature, w_glob.t()) if g else first.bias.expand(b, -1)
    table = (cells + glob.unsqueeze(1)).reshape(b * h * w, -1)
    return FastState(table, w_rel.contiguous(), (h, w), b)


def fast_query(decoder: LIIFDecoder, fs: FastState, coords: torch.Tensor) -> torch.Tensor:
    """Logits ``B x N x K`` at ``coords`` ``B x N x 2`` (``(y, x)`` in [-1, 1]); same as ``query_logits``."""
    b, n, _ = coords.shape
    h, w = fs.grid
    shifts = ENSEMBLE_SHIFTS if decoder.cfg.local_ensemble else ((0, 0),)
    size = coords.new_tensor([h, w])
    offset = (torch.arange(b, device=coords.device) * (h * w)).unsqueeze(1)
    index, rel = [], []
    for shift in shifts:
        iy, ix, centre = nearest_cell(coords, (h, w), shift)
        index.append(iy * w + ix + offset)
        rel.append((coords - centre) * size)
    index, rel = torch.stack(index), torch.stack(rel)  # S x B x N, S x B x N x 2
    x = torch.addmm(fs.table.index_select(0, index.reshape(-1)), rel.reshape(-1, 2), fs.w_rel.t()).relu_()
    layers = decoder.mlp.layers
    for layer in layers[1:-1]:
        x = F.linear(x, layer.weight, layer.bias).relu_()
    x = F.linear(x, layers[-1].weight, layers[-1].bias).view(len(shifts), b, n, -1)
    if len(shifts) == 1:
        return x[0]
    areas = (rel[..., 0] * rel[..., 1]).abs() + 1e-9  # S x B x N
    weights = areas.flip(0) / areas.sum(0)  # member k is weighted by the area opposite to it
    return (x * weights.unsqueeze(-1)).sum(0)


def query_chunked(decoder: LIIFDecoder, fs: FastState, coords: torch.Tensor, chunk: int) -> torch.Tensor:
    """:func:`fast_query` ``chunk`` queries at a time: ``B x N x 2`` -> ``B x N x K``."""
    if coords.shape[1] <= chunk:
        return fast_query(decoder, fs, coords)
    return torch.cat([fast_query(decoder, fs, c) for c in coords.split(chunk, dim=1)], dim=1)


@dataclass(frozen=True)
class GridAxes:
    """Pixel-centre coordinates of a regular output grid: ``y_i = ((i + 0.5) * step + offset) * 2 / side - 1``.

    The same float64 formula as :meth:`fpliif.image.PadBox.query_coords`, so fast and dense paths query the
    very same points; indices past the grid extrapolate it.
    """

    y_step: float
    y_offset: float
    y_side: float
    x_step: float
    x_offset: float
    x_side: float

    @classmethod
    def from_box(cls, box, out_h: int, out_w: int) -> GridAxes:
        """The grid ``PadBox.query_coords(out_h, out_w)`` describes."""
        return cls(box.height / out_h, box.top, box.side, box.width / out_w, box.left, box.side)

    @classmethod
    def full(cls, out_h: int, out_w: int) -> GridAxes:
        """The whole ``[-1, 1]^2`` square, as ``make_coord((out_h, out_w))``."""
        return cls(1 / out_h, 0.0, 1.0, 1 / out_w, 0.0, 1.0)

    def axis(self, index: torch.Tensor, which: str) -> torch.Tensor:
        step, offset, side = (self.y_step, self.y_offset, self.y_side) if which == "y" else (
            self.x_step, self.x_offset, self.x_side)
        return ((index.double() + 0.5) * step + offset) * 2 / side - 1

    def coords(self, iy: torch.Tensor, ix: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``N x 2`` coordinates of the points ``(iy[n], ix[n])``."""
        return torch.stack([self.axis(iy, "y"), self.axis(ix, "x")], dim=-1).to(dtype)

    def cell_pixels(self, grid: tuple[int, int]) -> float:
        """Output pixels per latent cell (the smaller of the two axes)."""
        h, w = grid
        return min(self.y_side / (h * self.y_step), self.x_side / (w * self.x_step))


def _level0_stride(cell_px: float, opts: FastOptions, out_h: int, out_w: int) -> int:
    stride = 2 ** max(0, math.floor(math.log2(max(cell_px / opts.coarse, 1.0))))
    while stride > 1 and stride >= min(out_h, out_w):
        stride //= 2
    return stride


def _exact_stride(cell_px: float, scale: int, opts: FastOptions) -> int:
    """Smallest stride (output px) still evaluated exactly; finer levels only interpolate."""
    if opts.exact_px is None:
        return 1
    return 2 ** max(0, math.floor(math.log2(max(opts.exact_px * cell_px / scale, 1.0))))


@torch.inference_mode()
def render_grid(decoder: LIIFDecoder, state: DecoderState, axes: GridAxes, out_h: int, out_w: int,
                opts: FastOptions | None = None, stats: RenderStats | None = None) -> torch.Tensor:
    """Coarse-to-fine logits ``B x K x out_h x out_w`` on the grid ``axes`` describes.

    Points the renderer evaluates are exact (as the dense decoder, up to float rounding); the rest are
    bilinear interpolations of exact neighbours inside regions where the label does not change.
    """
    opts = opts or FastOptions()
    stats = stats if stats is not None else RenderStats()
    fs = precompute(decoder, state)
    cell_px = axes.cell_pixels(fs.grid)
    stride = _level0_stride(cell_px, opts, out_h, out_w)
    exact_stride = min(_exact_stride(cell_px, decoder.cfg.scale, opts), stride)
    dtype, device = fs.table.dtype, fs.table.device
    gh, gw = -(-(out_h - 1) // stride) + 1, -(-(out_w - 1) // stride) + 1
    iy = torch.arange(gh, device=device) * stride
    ix = torch.arange(gw, device=device) * stride
    grid_iy, grid_ix = torch.meshgrid(iy, ix, indexing="ij")
    logits = _evaluate(decoder, fs, axes, grid_iy.reshape(-1), grid_ix.reshape(-1), dtype, opts.chunk)
    logits = logits.transpose(1, 2).reshape(fs.batch, -1, gh, gw)
    exact = torch.ones(gh, gw, dtype=torch.bool, device=device)
    stats.queries += gh * gw
    stats.dense_queries += out_h * out_w
    while stride > exact_stride:
        stride //= 2
        stats.levels += 1
        todo = _refine_points(logits, decoder.cfg.temperature, opts)
        gh, gw = 2 * gh - 1, 2 * gw - 1
        logits = F.interpolate(logits, size=(gh, gw), mode="bilinear", align_corners=True)
        grown = _spread(exact, 2, (gh, gw))
        todo &= ~grown
        pts = todo.nonzero()
        if len(pts):
            values = _evaluate(decoder, fs, axes, pts[:, 0] * stride, pts[:, 1] * stride, dtype, opts.chunk)
            flat = logits.view(fs.batch, logits.shape[1], -1)
            flat[:, :, pts[:, 0] * gw + pts[:, 1]] = values.transpose(1, 2)
            stats.queries += len(pts)
        exact = grown | todo
    if stride > 1:  # the finest levels: bilinear only (the same as halving `stride` times)
        gh, gw = (gh - 1) * stride + 1, (gw - 1) * stride + 1
        logits = F.interpolate(logits, size=(gh, gw), mode="bilinear", align_corners=True)
        exact = _spread(exact, stride, (gh, gw))
    stats.exact = exact[:out_h, :out_w]
    if (gh, gw) == (out_h, out_w):
        return logits
    return logits[..., :out_h, :out_w].contiguous()  # strided views make later reductions (arg-max) slow


def _spread(mask: torch.Tensor, stride: int, size: tuple[int, int]) -> torch.Tensor:
    """A coarse-grid mask placed on every ``stride``-th point of a ``size`` grid (False elsewhere)."""
    out = torch.zeros(size, dtype=torch.bool, device=mask.device)
    out[::stride, ::stride] = mask
    return out


def _evaluate(decoder, fs: FastState, axes: GridAxes, iy, ix, dtype, chunk) -> torch.Tensor:
    """Logits ``B x N x K`` at the grid points ``(iy, ix)`` (output pixel indices)."""
    coords = axes.coords(iy, ix, dtype).unsqueeze(0).expand(fs.batch, -1, -1)
    return query_chunked(decoder, fs, coords, chunk)


def _refine_points(logits: torch.Tensor, temperature: float, opts: FastOptions) -> torch.Tensor:
    """Which points of the next, twice as fine grid ``(2h-1) x (2w-1)`` to evaluate exactly.

    A cell (four neighbouring points of ``logits`` ``B x K x h x w``) is marked when its corners disagree
    on the label or one corner is uncertain; every point on or inside a marked cell is refined.
    """
    probs = torch.softmax(logits.float() / temperature, dim=1)
    top2 = probs.topk(2, dim=1).values
    labels = logits.argmax(dim=1)  # B x h x w
    unsure = (top2[:, 0] - top2[:, 1]) < opts.margin
    if opts.soft:
        unsure |= top2[:, 0] < 1 - opts.saturation
    corner = labels[:, :-1, :-1]
    cells = (corner != labels[:, 1:, :-1]) | (corner != labels[:, :-1, 1:]) | (corner != labels[:, 1:, 1:])
    cells |= unsure[:, :-1, :-1] | unsure[:, 1:, :-1] | unsure[:, :-1, 1:] | unsure[:, 1:, 1:]
    cells = cells.any(dim=0, keepdim=True).unsqueeze(0).float()  # 1 x 1 x (h-1) x (w-1)
    if opts.dilate:
        cells = F.max_pool2d(cells, 3, stride=1, padding=1)
    up = cells.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    points = F.max_pool2d(F.pad(up, (1, 1, 1, 1)), 2, stride=1)  # 1 x 1 x (2h-1) x (2w-1)
    return points[0, 0] > 0
