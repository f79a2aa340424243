"""LIIF-style query sampling: train the decoder on a random subset of pixels per image, stratified by edges.

The decoder's cost grows with the number of queries, so on a CPU a full 256x256 grid per image dominates a
step. Sampling ``N`` points per image cuts it. Half of the points (:data:`EDGE_SHARE`) are drawn from the
ground-truth edge pixels, which carry the edge-aware term, and the rest from the other pixels; when a stratum
is too small its share goes to the other. Importance weights (pixels in the stratum / points drawn from it) keep
the plain cross-entropy an unbiased estimate of the full-grid mean, and the edge term is the mean over the
sampled edge pixels, an unbiased estimate of the mean over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.decoder import make_coord

__all__ = ["QuerySample", "sample_queries", "EDGE_SHARE"]

EDGE_SHARE = 0.5  # of the points, drawn from edge pixels (at 256 px labels edges are ~10% of the pixels)


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
    """Draw ``num_points`` pixels per image, :data:`EDGE_SHARE` of them from edge pixels, the rest from the others.

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
    flat_edges = edges.reshape(b, -1).cpu()
    score = torch.rand(b, h * w, generator=generator)
    n_edges = flat_edges.sum(1)
    take_edges = torch.minimum(n_edges, torch.tensor(round(n * EDGE_SHARE)))
    take_edges = n - torch.minimum(h * w - n_edges, n - take_edges)  # a small rest stratum gives its share back
    chosen = (flat_edges & (_rank(score, flat_edges) < take_edges[:, None])) | (
        ~flat_edges & (_rank(score, ~flat_edges) < (n - take_edges)[:, None]))
    index = chosen.float().topk(n, dim=1).indices.to(mask.device)  # exactly n chosen pixels per image
    picked_edges = flat_edges.to(mask.device).gather(1, index)
    weight = _stratum_weights(flat_edges.to(mask.device), picked_edges)
    coords = make_coord((h, w), device=mask.device)[index]
    return QuerySample(coords, mask.reshape(b, -1).gather(1, index), picked_edges, weight)


def _rank(score: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """Each pixel's rank by ``score`` among the members of its image's stratum (non-members rank last)."""
    order = torch.where(member, score, 2.0).argsort(dim=1)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return rank


def _stratum_weights(all_edges: torch.Tensor, picked_edges: torch.Tensor) -> torch.Tensor:
    total_edge = all_edges.sum(1, keepdim=True).float()
    total_rest = all_edges.shape[1] - total_edge
    got_edge = picked_edges.sum(1, keepdim=True).float()
    got_rest = picked_edges.shape[1] - got_edge
    w_edge = total_edge / got_edge.clamp_min(1)
    w_rest = total_rest / got_rest.clamp_min(1)
    return torch.where(picked_edges, w_edge, w_rest)
