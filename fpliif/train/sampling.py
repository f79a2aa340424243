"""LIIF-style query sampling: train the decoder on a random subset of pixels per image, edges kept first.

The decoder's cost grows with the number of queries, so on a CPU a full 256x256 grid per image dominates a
step. Sampling ``N`` points per image cuts it; edge pixels are taken first (they carry the edge-aware term),
and importance weights keep the plain cross-entropy an unbiased estimate of the full-grid mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.decoder import make_coord

__all__ = ["QuerySample", "sample_queries"]


@dataclass
class QuerySample:
    """Sampled query points for a batch.

    Attributes:
        coords: ``B x N x 2`` pixel-centre coordinates ``(y, x)`` in [-1, 1].
        mask: ``B x N`` class ids at those points.
        edges: ``B x N`` bool, whether each point is a ground-truth edge pixel.
        weight: ``B x N`` importance weights (pixels of its stratum / points drawn from it).
    """

    coords: torch.Tensor
    mask: torch.Tensor
    edges: torch.Tensor
    weight: torch.Tensor


def sample_queries(
    mask: torch.Tensor, edges: torch.Tensor, num_points: int, generator: torch.Generator | None = None
) -> QuerySample:
    """Draw ``num_points`` pixels per image: edge pixels first (at random among them), then the rest at random.

    Args:
        mask: ``B x H x W`` class ids.
        edges: ``B x H x W`` bool edge map of ``mask``.
        num_points: points per image (at most ``H * W``).
        generator: CPU generator, so a run (and its resume) draws the same points.

    Returns:
        :class:`QuerySample`.
    """
    b, h, w = mask.shape
    n = min(int(num_points), h * w)
    flat_edges = edges.reshape(b, -1)
    # Edge pixels score in [1, 2), the rest in [0, 1): top-k keeps edges first, each stratum in random order.
    score = torch.rand(b, h * w, generator=generator).to(mask.device) + flat_edges.float()
    index = score.topk(n, dim=1).indices
    picked_edges = flat_edges.gather(1, index)
    weight = _stratum_weights(flat_edges, picked_edges)
    coords = make_coord((h, w), device=mask.device)[index]
    return QuerySample(coords, mask.reshape(b, -1).gather(1, index), picked_edges, weight)


def _stratum_weights(all_edges: torch.Tensor, picked_edges: torch.Tensor) -> torch.Tensor:
    total_edge = all_edges.sum(1, keepdim=True).float()
    total_rest = all_edges.shape[1] - total_edge
    got_edge = picked_edges.sum(1, keepdim=True).float()
    got_rest = picked_edges.shape[1] - got_edge
    w_edge = total_edge / got_edge.clamp_min(1)
    w_rest = total_rest / got_rest.clamp_min(1)
    return torch.where(picked_edges, w_edge, w_rest)
