"""The LIIF decoder (paper section 3.3, Fig. 6): per-pixel class logits at any continuous coordinate.

Reading order: :meth:`LIIFDecoder.prepare` turns the latent grid Z into one row per latent cell (the unfolded,
channel-reduced feature and the global feature already passed through the MLP's first layer);
:meth:`LIIFDecoder.query_logits` then answers any set of query coordinates: find the four nearest cells, add the
relative coordinate's part of the first layer, run the rest of the MLP and blend the local ensemble.

The first MLP layer is linear in ``[cell feature, global feature, relative coordinate]``, so its cell and global
parts are computed once per cell instead of once per query and ensemble member. This is the only query: training,
the renderer (:mod:`fpliif.render`) and the ONNX export all call it, and ``tests/test_decoder_oracle.py`` checks it
against a direct transcription of LIIF's ``query_rgb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import FPLIIFConfig

__all__ = ["LIIFDecoder", "DecoderState", "make_coord", "MLP", "nearest_cell", "ENSEMBLE_SHIFTS"]

# The four ensemble members: the latent cell up-left, up-right, down-left and down-right of the query.
ENSEMBLE_SHIFTS = ((-1, -1), (-1, 1), (1, -1), (1, 1))
EPS_SHIFT = 1e-6


def make_coord(shape: tuple[int, int], device=None, dtype=None, flatten: bool = True) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1] of an ``H x W`` grid, ``(y, x)`` last: ``(H*W) x 2`` or ``H x W x 2``."""
    axes = [(-1 + (2 * torch.arange(n, device=device, dtype=dtype or torch.float32) + 1) / n) for n in shape]
    coord = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    return coord.reshape(-1, 2) if flatten else coord


class MLP(nn.Module):
    """Linear layers with ReLU between them: ``in_dim -> hidden... -> out_dim``.

    The decoder applies the first layer in two parts (see :meth:`LIIFDecoder.prepare`) and calls
    :meth:`hidden_to_logits` for the rest; :meth:`forward` is the plain composition of the same layers.
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int):
        super().__init__()
        dims = (in_dim, *hidden, out_dim)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden_to_logits(F.relu(self.layers[0](x)))

    def hidden_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The layers after the first, on its (activated) output."""
        for layer in self.layers[1:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


@dataclass
class DecoderState:
    """What the decoder keeps per image between queries.

    Attributes:
        cells: ``B x (h*w) x H1``: the first MLP layer's pre-activation from each latent cell's reduced feature
            and the image's global feature, bias included (row ``y * w + x`` is cell ``(y, x)``).
        grid: the latent grid ``(h, w)``.
    """

    cells: torch.Tensor
    grid: tuple[int, int]

    def __getitem__(self, index: int | slice) -> DecoderState:
        """The state of one image (``state[i]``) or of a range of the batch."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return DecoderState(self.cells[index], self.grid)

    def __len__(self) -> int:
        return self.cells.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.cells.dtype

    @property
    def device(self) -> torch.device:
        return self.cells.device


class LIIFDecoder(nn.Module):
    """Global pooling, 3x3 unfolding, reduce-channel MLP and the per-pixel MLP with local ensemble."""

    def __init__(self, cfg: FPLIIFConfig):
        super().__init__()
        self.cfg = cfg
        unfolded = cfg.width * 9 if cfg.unfold else cfg.width
        # The reduce-channel MLP acts on every latent cell alike, so it is written as 1x1 convs.
        self.reduce = nn.Sequential(
            nn.Conv2d(unfolded, cfg.reduce_hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(cfg.reduce_hidden, cfg.feature_dim, 1),
        )
        self.global_dim = cfg.width if cfg.global_feature else 0
        # first-layer input: [reduced cell feature (feature_dim), global feature (global_dim), relative (y, x)]
        self.mlp = MLP(cfg.feature_dim + self.global_dim + 2, cfg.mlp_hidden, cfg.num_classes)

    def prepare(self, z: torch.Tensor) -> DecoderState:
        """Latent grid Z ``B x C x h x w`` -> :class:`DecoderState`, once per image."""
        b, c, h, w = z.shape
        x = F.unfold(z, 3, padding=1).view(b, c * 9, h, w) if self.cfg.unfold else z
        features = self.reduce(x).flatten(2).transpose(1, 2)  # B x (h*w) x feature_dim
        first = self.mlp.layers[0]
        d = self.cfg.feature_dim
        bias = first.bias.expand(b, -1)
        if self.global_dim:
            bias = torch.addmm(first.bias, z.mean(dim=(2, 3)), first.weight[:, d:d + self.global_dim].t())
        cells = features @ first.weight[:, :d].t() + bias.unsqueeze(1)
        return DecoderState(cells, (h, w))

    def query_logits(self, state: DecoderState, coords: torch.Tensor) -> torch.Tensor:
        """Class logits at query coordinates.

        Args:
            state: from :meth:`prepare`.
            coords: ``B x N x 2`` coordinates ``(y, x)`` in [-1, 1] (pixel centres of the output grid).

        Returns:
            ``B x N x num_classes`` logits (before the softmax temperature).
        """
        b, n, _ = coords.shape
        h, w = state.grid
        shifts = ENSEMBLE_SHIFTS if self.cfg.local_ensemble else ((0, 0),)
        # one row index and relative coordinate per ensemble member: S x B x N and S x B x N x 2
        index, rel = zip(*(self.nearest_cells(coords, (h, w), shift) for shift in shifts))
        offset = (torch.arange(b, device=coords.device) * (h * w)).view(1, b, 1)
        index, rel = torch.stack(index) + offset, torch.stack(rel)
        rows = state.cells.reshape(b * h * w, -1).index_select(0, index.reshape(-1))
        w_rel = self.mlp.layers[0].weight[:, -2:]
        hidden = torch.addmm(rows, rel.reshape(-1, 2).to(rows.dtype), w_rel.t()).relu_()
        preds = self.mlp.hidden_to_logits(hidden).view(len(shifts), b, n, -1)
        if len(shifts) == 1:
            return preds[0]
        return local_ensemble(preds, (rel[..., 0] * rel[..., 1]).abs() + 1e-9)

    @staticmethod
    def nearest_cells(coords: torch.Tensor, grid: tuple[int, int], shift: tuple[int, int]):
        """Row index ``y * w + x`` of the cell next to each query in direction ``shift``, and the query's offset
        from that cell's centre in cell units: ``B x N`` and ``B x N x 2``."""
        iy, ix, centre = nearest_cell(coords, grid, shift)
        return iy * grid[1] + ix, (coords - centre) * coords.new_tensor(grid)


def nearest_cell(
    coords: torch.Tensor, grid: tuple[int, int], shift: tuple[int, int] = (0, 0)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row and column of the latent cell nearest to ``coords`` moved half a cell by ``shift``, and its centre.

    This is LIIF's nearest-neighbour ``grid_sample`` written as index arithmetic, so it is exact and cheap.
    """
    h, w = grid
    radius = coords.new_tensor([1.0 / h, 1.0 / w])
    moved = coords + coords.new_tensor(shift) * radius + EPS_SHIFT
    moved = moved.clamp(-1 + 1e-6, 1 - 1e-6)
    iy = ((moved[..., 0] + 1) * (h / 2)).floor().long().clamp_(0, h - 1)
    ix = ((moved[..., 1] + 1) * (w / 2)).floor().long().clamp_(0, w - 1)
    centre = torch.stack([-1 + (2 * iy + 1) / h, -1 + (2 * ix + 1) / w], dim=-1).to(coords.dtype)
    return iy, ix, centre


def local_ensemble(preds: torch.Tensor, areas: torch.Tensor) -> torch.Tensor:
    """Blend the four members ``4 x B x N x K``, each weighted by the area ``4 x B x N`` of the rectangle between
    the query and the *opposite* member's cell centre (LIIF, eq. 5)."""
    weights = areas.flip(0) / areas.sum(0)  # member k faces member 3 - k across the query point
    return (preds * weights.unsqueeze(-1).to(preds.dtype)).sum(0)
