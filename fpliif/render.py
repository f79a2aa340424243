"""The renderer: FP-LIIF logits on a whole output grid, coarse to fine, at a fraction of the dense cost.

The decoder (:meth:`fpliif.models.decoder.LIIFDecoder.query_logits`) answers any set of coordinates. A label
map is a regular grid of them, and most of it is the inside of regions where nothing changes, so
:func:`render_grid` evaluates the implicit function on a coarse grid (about one sample per latent cell),
upsamples the logits bilinearly, and re-evaluates exactly only the points of cells whose corners disagree on
the label or are uncertain (small top-2 probability margin); level by level, down to the output grid. Below
``exact_px`` output pixels per sample the remaining levels are bilinear only (the function is piecewise smooth
inside a latent cell), which keeps 1024-2048 px outputs cheap. With ``soft=True`` every point whose top
probability is not saturated is refined too, so soft masks are exact there, not only the arg-max labels.

The output grid is any affine image of the pixel lattice (:class:`OutputGrid`): the padded image region of a
photo (:meth:`OutputGrid.from_box`), or a photo's pixels mapped into an aligned face crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .models.decoder import DecoderState, LIIFDecoder

__all__ = ["RenderOptions", "OutputGrid", "RenderStats", "render_grid", "render_dense", "query_chunked"]


@dataclass
class RenderOptions:
    """Knobs of the coarse-to-fine renderer.

    Attributes:
        coarse: first-level samples per latent cell along each axis (1: one sample per cell).
        margin: a corner whose top-2 probability margin is below this marks its cells for refinement.
        soft: also refine every cell whose corners' probabilities differ by more than ``tolerance`` in any class,
            so soft masks (probabilities) are right to about ``tolerance`` everywhere, not only the arg-max labels:
            where probabilities change slowly, bilinear logits are as good as the network's own.
        tolerance: see ``soft``.
        dilate: also refine the cells next to a marked cell (catches thin structures).
        exact_px: evaluate exactly down to this many output pixels per sample *relative to the network
            input* (1.0: every input-resolution pixel is exact; finer levels are bilinear). ``None``: exact
            down to every output pixel.
        chunk: queries per network call (bounds memory).

    The defaults (margin 0.05, exact down to two input pixels) were measured on 6 val faces with a paper-size
    network trained at 128 px: label maps agree with the dense decoder on 99.5% of the pixels at 256 px output
    and 99.6% at 512 (99.8% with ``exact_px=1``), for a third of the time (0.05 s against 0.15 s at 256 px),
    which is what keeps a 3840 x 2160 photo with four faces under 2 s on two CPU cores.
    """

    coarse: float = 1.0
    margin: float = 0.05
    soft: bool = False
    tolerance: float = 0.02
    dilate: bool = False
    exact_px: float | None = 2.0
    chunk: int = 16384


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


@dataclass(frozen=True)
class OutputGrid:
    """Where each output pixel ``(i, j)`` queries the decoder: ``(y, x) = A @ (i + 0.5, j + 0.5, 1)``.

    ``A`` (``affine``, 2 x 3, row-major) maps output pixel centres to decoder coordinates in [-1, 1] (``y``
    first). Computed in float64, so the coarse-to-fine and the dense paths query the very same points; indices
    past the grid extrapolate it.
    """

    affine: tuple[tuple[float, float, float], tuple[float, float, float]]

    @classmethod
    def from_box(cls, box, out_h: int, out_w: int) -> OutputGrid:
        """The image region ``box`` (:class:`fpliif.image.PadBox`) of the padded square, at ``out_h x out_w``."""
        s = 2 / box.side
        return cls(((s * box.height / out_h, 0.0, s * box.top - 1), (0.0, s * box.width / out_w, s * box.left - 1)))

    @classmethod
    def full(cls, out_h: int, out_w: int) -> OutputGrid:
        """The whole ``[-1, 1]^2`` square, as ``make_coord((out_h, out_w))``."""
        return cls(((2 / out_h, 0.0, -1.0), (0.0, 2 / out_w, -1.0)))

    def coords(self, iy: torch.Tensor, ix: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``N x 2`` coordinates of the output pixels ``(iy[n], ix[n])``."""
        a = torch.tensor(self.affine, dtype=torch.float64, device=iy.device)
        points = torch.stack([iy.double() + 0.5, ix.double() + 0.5, torch.ones_like(iy, dtype=torch.float64)])
        return (a @ points).t().to(dtype)

    def all_coords(self, out_h: int, out_w: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """``(out_h * out_w) x 2`` coordinates of every output pixel, row by row."""
        iy, ix = torch.meshgrid(torch.arange(out_h, device=device), torch.arange(out_w, device=device), indexing="ij")
        return self.coords(iy.reshape(-1), ix.reshape(-1), dtype)

    def shifted(self, rows: int, cols: int) -> OutputGrid:
        """The same grid seen from output pixel ``(rows, cols)``: pixel ``(i, j)`` here is ``(i + rows, j + cols)``
        there (for rendering a block of the output)."""
        (ayy, ayx, by), (axy, axx, bx) = self.affine
        return OutputGrid(((ayy, ayx, by + ayy * rows + ayx * cols), (axy, axx, bx + axy * rows + axx * cols)))

    def cell_pixels(self, grid: tuple[int, int]) -> float:
        """Output pixels per latent cell along the output axis where cells look smallest."""
        (ayy, ayx, _), (axy, axx, _) = self.affine
        h, w = grid
        step_i = math.hypot(ayy * h / 2, axy * w / 2)  # cells crossed per output row step
        step_j = math.hypot(ayx * h / 2, axx * w / 2)  # ... per output column step
        return 1 / max(step_i, step_j, 1e-12)


def query_chunked(decoder: LIIFDecoder, state: DecoderState, coords: torch.Tensor, chunk: int) -> torch.Tensor:
    """:meth:`LIIFDecoder.query_logits` ``chunk`` queries at a time: ``B x N x 2`` -> ``B x N x K``."""
    if coords.shape[1] <= chunk:
        return decoder.query_logits(state, coords)
    return torch.cat([decoder.query_logits(state, c) for c in coords.split(chunk, dim=1)], dim=1)


def _level0_stride(cell_px: float, opts: RenderOptions, out_h: int, out_w: int) -> int:
    stride = 2 ** max(0, math.floor(math.log2(max(cell_px / opts.coarse, 1.0))))
    while stride > 1 and stride >= min(out_h, out_w):
        stride //= 2
    return stride


def _exact_stride(cell_px: float, scale: int, opts: RenderOptions) -> int:
    """Smallest stride (output px) still evaluated exactly; finer levels only interpolate."""
    if opts.exact_px is None:
        return 1
    return 2 ** max(0, math.floor(math.log2(max(opts.exact_px * cell_px / scale, 1.0))))


@torch.inference_mode()
def render_grid(decoder: LIIFDecoder, state: DecoderState, grid: OutputGrid, out_h: int, out_w: int,
                opts: RenderOptions | None = None, stats: RenderStats | None = None) -> torch.Tensor:
    """Coarse-to-fine logits ``B x K x out_h x out_w`` on the output grid ``grid``.

    Points the renderer evaluates are exact (the decoder's own query); the rest are bilinear interpolations
    of exact neighbours inside regions where the label does not change.
    """
    opts = opts or RenderOptions()
    stats = stats if stats is not None else RenderStats()
    cell_px = grid.cell_pixels(state.grid)
    stride = _level0_stride(cell_px, opts, out_h, out_w)
    exact_stride = min(_exact_stride(cell_px, decoder.cfg.scale, opts), stride)
    batch, device = len(state), state.device
    gh, gw = -(-(out_h - 1) // stride) + 1, -(-(out_w - 1) // stride) + 1
    iy, ix = torch.meshgrid(torch.arange(gh, device=device) * stride, torch.arange(gw, device=device) * stride,
                            indexing="ij")
    logits = _evaluate(decoder, state, grid, iy.reshape(-1), ix.reshape(-1), opts.chunk)
    logits = logits.transpose(1, 2).reshape(batch, -1, gh, gw)
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
            values = _evaluate(decoder, state, grid, pts[:, 0] * stride, pts[:, 1] * stride, opts.chunk)
            flat = logits.view(batch, logits.shape[1], -1)
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


@torch.inference_mode()
def render_dense(decoder: LIIFDecoder, state: DecoderState, grid: OutputGrid, out_h: int, out_w: int,
                 chunk: int = 65536) -> torch.Tensor:
    """The decoder at every output pixel: ``B x K x out_h x out_w`` (the reference for :func:`render_grid`)."""
    coords = grid.all_coords(out_h, out_w, state.device, state.dtype)
    logits = query_chunked(decoder, state, coords.unsqueeze(0).expand(len(state), -1, -1), chunk)
    return logits.transpose(1, 2).reshape(len(state), -1, out_h, out_w)


def _spread(mask: torch.Tensor, stride: int, size: tuple[int, int]) -> torch.Tensor:
    """A coarse-grid mask placed on every ``stride``-th point of a ``size`` grid (False elsewhere)."""
    out = torch.zeros(size, dtype=torch.bool, device=mask.device)
    out[::stride, ::stride] = mask
    return out


def _evaluate(decoder: LIIFDecoder, state: DecoderState, grid: OutputGrid, iy, ix, chunk: int) -> torch.Tensor:
    """Logits ``B x N x K`` at the output pixels ``(iy, ix)``."""
    coords = grid.coords(iy, ix, state.dtype).unsqueeze(0).expand(len(state), -1, -1)
    return query_chunked(decoder, state, coords, chunk)


def _refine_points(logits: torch.Tensor, temperature: float, opts: RenderOptions) -> torch.Tensor:
    """Which points of the next, twice as fine grid ``(2h-1) x (2w-1)`` to evaluate exactly.

    A cell (four neighbouring points of ``logits`` ``B x K x h x w``) is marked when its corners disagree
    on the label or one corner is uncertain (and, for soft masks, when a probability changes across it by more
    than the tolerance); every point on or inside a marked cell is refined.
    """
    probs = torch.softmax(logits.float() / temperature, dim=1)
    top2 = probs.topk(2, dim=1).values
    labels = logits.argmax(dim=1)  # B x h x w
    unsure = (top2[:, 0] - top2[:, 1]) < opts.margin
    corner = labels[:, :-1, :-1]
    cells = (corner != labels[:, 1:, :-1]) | (corner != labels[:, :-1, 1:]) | (corner != labels[:, 1:, 1:])
    cells |= unsure[:, :-1, :-1] | unsure[:, 1:, :-1] | unsure[:, :-1, 1:] | unsure[:, 1:, 1:]
    if opts.soft:  # probabilities that change across a cell: interpolating them would be off
        corners = torch.stack([probs[..., :-1, :-1], probs[..., 1:, :-1], probs[..., :-1, 1:], probs[..., 1:, 1:]])
        spread = (corners.amax(0) - corners.amin(0)).amax(1)  # B x (h-1) x (w-1)
        cells |= spread > opts.tolerance
    cells = cells.any(dim=0, keepdim=True).unsqueeze(0).float()  # 1 x 1 x (h-1) x (w-1)
    if opts.dilate:
        cells = F.max_pool2d(cells, 3, stride=1, padding=1)
    up = cells.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    points = F.max_pool2d(F.pad(up, (1, 1, 1, 1)), 2, stride=1)  # 1 x 1 x (2h-1) x (2w-1)
    return points[0, 0] > 0
