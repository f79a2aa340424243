"""The LIIF decoder (paper section 3.3, Fig. 6): per-pixel class logits at any continuous coordinate.

Reading order: :meth:`LIIFDecoder.prepare` turns the latent grid Z into the reduced grid and the global
feature once per image; :meth:`LIIFDecoder.query_logits` then answers any set of query coordinates by
sampling the nearest latent cells, building relative coordinates, running the MLP and blending the local
ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import FPLIIFConfig

__all__ = ["LIIFDecoder", "DecoderState", "make_coord", "MLP"]

# The four ensemble members: the latent cell up-left, up-right, down-left and down-right of the query.
ENSEMBLE_SHIFTS = ((-1, -1), (-1, 1), (1, -1), (1, 1))
EPS_SHIFT = 1e-6


def make_coord(shape: tuple[int, int], device=None, dtype=None, flatten: bool = True) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1] of an ``H x W`` grid, ``(y, x)`` last: ``(H*W) x 2`` or ``H x W x 2``."""
    axes = [(-1 + (2 * torch.arange(n, device=device, dtype=dtype or torch.float32) + 1) / n) for n in shape]
    coord = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    return coord.reshape(-1, 2) if flatten else coord


class MLP(nn.Module):
    """Linear layers with ReLU between them: ``in_dim -> hidden... -> out_dim``."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int):
        super().__init__()
        dims = (in_dim, *hidden, out_dim)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


@dataclass
class DecoderState:
    """What the decoder keeps per image between queries.

    Attributes:
        features: reduced latent grid ``B x D x h x w``.
        global_feature: average-pooled Z ``B x C`` (``B x 0`` when the config turns it off).
    """

    features: torch.Tensor
    global_feature: torch.Tensor


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
        global_dim = cfg.width if cfg.global_feature else 0
        self.mlp = MLP(cfg.feature_dim + global_dim + 2, cfg.mlp_hidden, cfg.num_classes)

    def prepare(self, z: torch.Tensor) -> DecoderState:
        """Latent grid Z ``B x C x h x w`` -> :class:`DecoderState`."""
        b, c, h, w = z.shape
        if self.cfg.global_feature:
            g = z.mean(dim=(2, 3))
        else:
            g = z.new_zeros(b, 0)
        x = F.unfold(z, 3, padding=1).view(b, c * 9, h, w) if self.cfg.unfold else z
        return DecoderState(self.reduce(x), g)

    def query_logits(self, state: DecoderState, coords: torch.Tensor) -> torch.Tensor:
        """Class logits at query coordinates.

        Args:
            state: from :meth:`prepare`.
            coords: ``B x N x 2`` coordinates ``(y, x)`` in [-1, 1] (pixel centres of the output grid).

        Returns:
            ``B x N x num_classes`` logits (before the softmax temperature).
        """
        shifts = ENSEMBLE_SHIFTS if self.cfg.local_ensemble else ((0, 0),)
        preds, areas = [], []
        for shift in shifts:
            cell_feat, rel = self.sample_cells(state.features, coords, shift)
            preds.append(self.run_mlp(cell_feat, state.global_feature, rel))
            areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
        if len(preds) == 1:
            return preds[0]
        return local_ensemble(preds, areas)

    def sample_cells(
        self, feat: torch.Tensor, coords: torch.Tensor, shift: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of the latent cell next to each query in direction ``shift``, and the relative coordinate.

        Returns:
            ``B x N x D`` cell features and ``B x N x 2`` query-minus-cell-centre offsets in cell units.
        """
        b, d, h, w = feat.shape
        iy, ix, centre = nearest_cell(coords, (h, w), shift)
        index = (iy * w + ix).unsqueeze(1).expand(b, d, -1)
        cell_feat = feat.flatten(2).gather(2, index).transpose(1, 2)
        rel = (coords - centre) * coords.new_tensor([h, w])
        return cell_feat, rel

    def run_mlp(self, cell_feat: torch.Tensor, global_feature: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        g = global_feature.unsqueeze(1).expand(-1, cell_feat.shape[1], -1)
        return self.mlp(torch.cat([cell_feat, g, rel], dim=-1))


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


def local_ensemble(preds: list[torch.Tensor], areas: list[torch.Tensor]) -> torch.Tensor:
    """Blend the four members, each weighted by the area of the rectangle opposite to it (LIIF, eq. 5)."""
    total = torch.stack(areas).sum(0)
    opposite = areas[::-1]  # member k faces member 3 - k across the query point
    return sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, opposite))
