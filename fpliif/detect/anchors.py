"""MediaPipe's SSD anchors, raw-output decoding and weighted non-maximum suppression, in torch.

Follows ``SsdAnchorsCalculator`` (fixed-size anchors), ``TensorsToDetectionsCalculator`` (``reverse_output_order``,
``sigmoid_score``, ``score_clipping_thresh``) and ``NonMaxSuppressionCalculator`` (``WEIGHTED``, IoU).
"""

from __future__ import annotations

import torch

__all__ = ["ssd_anchors", "decode", "weighted_nms", "box_iou"]


def ssd_anchors(
    height: int, width: int, strides: tuple[int, ...], interpolated_scale_aspect_ratio: float = 0.0,
    offset: float = 0.5,
) -> torch.Tensor:
    """Anchor centres ``N x 2`` (x, y) in input pixels, in the order of the network's outputs.

    Layers that share a stride share a feature map; each contributes one anchor per cell (aspect ratio 1) and
    one more when ``interpolated_scale_aspect_ratio`` is 1. With ``fixed_anchor_size`` every anchor is 1 x 1,
    so only centres matter: MediaPipe's ``(x + offset) / cells`` times the input side, for a side that is a
    multiple of the stride.
    """
    centres = []
    layer = 0
    while layer < len(strides):
        stride, per_cell = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            per_cell += 2 if interpolated_scale_aspect_ratio == 1.0 else 1
            layer += 1
        ys = (torch.arange(-(-height // stride), dtype=torch.float64) + offset) * stride
        xs = (torch.arange(-(-width // stride), dtype=torch.float64) + offset) * stride
        y, x = torch.meshgrid(ys, xs, indexing="ij")
        xy = torch.stack([x, y], dim=-1).reshape(-1, 1, 2).expand(-1, per_cell, 2)
        centres.append(xy.reshape(-1, 2))
    return torch.cat(centres).float()


def decode(
    regressors: torch.Tensor, logits: torch.Tensor, anchors: torch.Tensor, clip: float = 100.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw outputs -> boxes ``... x N x 4`` (x0, y0, x1, y1), keypoints ``... x N x K x 2``, scores ``... x N``.

    Coordinates are input pixels: the graphs' ``x_scale`` etc. equal the input size, so the regressors are
    already pixel offsets from the anchor centre (box width and height in pixels).
    """
    anchors = anchors.to(regressors)
    centre = regressors[..., 0:2] + anchors
    half = regressors[..., 2:4] / 2
    boxes = torch.cat([centre - half, centre + half], dim=-1)
    keypoints = regressors[..., 4:].unflatten(-1, (-1, 2)) + anchors.unsqueeze(-2)
    scores = torch.sigmoid(logits.clamp(-clip, clip))
    return boxes, keypoints, scores


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of one box ``4`` with each of ``boxes`` ``N x 4`` (x0, y0, x1, y1)."""
    lo = torch.maximum(box[:2], boxes[:, :2])
    hi = torch.minimum(box[2:], boxes[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    area = lambda b: (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    union = area(box) + area(boxes) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def weighted_nms(
    boxes: torch.Tensor, keypoints: torch.Tensor, scores: torch.Tensor, iou_threshold: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of those it suppresses.

    Args:
        boxes: ``N x 4``; keypoints: ``N x K x 2``; scores: ``N`` (already thresholded).

    Returns:
        boxes ``M x 4``, keypoints ``M x K x 2``, scores ``M`` (each the best score of its cluster), best first.
    """
    order = scores.argsort(descending=True)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    kept_boxes, kept_points, kept_scores = [], [], []
    while scores.numel():
        cluster = box_iou(boxes[0], boxes) > iou_threshold
        cluster[0] = True
        weights = scores[cluster] / scores[cluster].sum()
        kept_boxes.append((boxes[cluster] * weights[:, None]).sum(0))
        kept_points.append((keypoints[cluster] * weights[:, None, None]).sum(0))
        kept_scores.append(scores[0])
        boxes, keypoints, scores = boxes[~cluster], keypoints[~cluster], scores[~cluster]
    if not kept_scores:
        return boxes, keypoints, scores
    return torch.stack(kept_boxes), torch.stack(kept_points), torch.stack(kept_scores)
