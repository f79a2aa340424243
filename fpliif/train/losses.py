"""The training objective (paper section 3.4): cross-entropy plus lambda times the edge-aware cross-entropy,
and optionally a soft Dice term, which weighs every class present in a batch equally, as the mean F1 does.

Masks hold class ids, with two special values:

* ``IGNORE`` (255): unknown, no loss at all.
* ``NOT_ANNOTATED`` (254): partial labels; the pixel is none of the classes annotated for this sample
  (for example "not hair" in a hair-only mask), so its loss is ``-log(1 - sum of p over the annotated classes)``.

Every function takes logits ``B x K x *`` and masks ``B x *`` with the same trailing shape, so they work on a
full ``H x W`` grid and on ``N`` sampled query points alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..labels import NOT_ANNOTATED

__all__ = [
    "label_edges", "pixel_losses", "partial_label_loss",
    "edge_aware_loss", "dice_loss", "parsing_loss",
]


def label_edges(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Edges of a label map (paper Fig. 7): pixels whose ``(2r+1) x (2r+1)`` neighbourhood holds another label.

    Args:
        mask: ``B x H x W`` integer label map (special values count as labels here).
        radius: neighbourhood radius; 1 is a 3x3 kernel, so both sides of a boundary are marked.

    Returns:
        ``B x H x W`` bool.
    """
    m = mask.unsqueeze(1).float()
    k = 2 * radius + 1
    padded = F.pad(m, (radius,) * 4, mode="replicate")
    high = F.max_pool2d(padded, k, stride=1)
    low = -F.max_pool2d(-padded, k, stride=1)
    return (high != low).squeeze(1)


def partial_label_loss(logits: torch.Tensor, annotated: torch.Tensor) -> torch.Tensor:
    """``-log(1 - sum_{c annotated} p_c)`` at every position: the loss of "none of the annotated classes".

    Computed stably as ``logsumexp(all) - logsumexp(not annotated)``.

    Args:
        logits: ``B x K x *`` (already divided by the temperature).
        annotated: ``B x K`` bool, the classes labelled in each sample.

    Returns:
        ``B x *`` loss; ``+inf``-free: a sample with every class annotated gets 0 (it has no such pixels).
    """
    shape = (*annotated.shape, *([1] * (logits.dim() - 2)))
    others = (~annotated).view(shape)
    masked = logits.masked_fill(~others, float("-inf"))
    has_others = others.flatten(1).any(1).view(-1, *([1] * (logits.dim() - 2)))
    loss = torch.logsumexp(logits, 1) - torch.logsumexp(masked, 1)
    return torch.where(has_others, loss, torch.zeros_like(loss))


def pixel_losses(
    logits: torch.Tensor, mask: torch.Tensor, annotated: torch.Tensor | None = None, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position loss and validity: cross-entropy at labelled pixels, partial-label loss at 254 pixels.

    Args:
        logits: ``B x K x *`` raw logits; divided by ``temperature`` here (the paper's tau).
        mask: ``B x *`` class ids, 255 ignored, 254 "none of the annotated classes".
        annotated: ``B x K`` bool; ``None`` means every class is annotated.
        temperature: softmax temperature tau.

    Returns:
        ``(loss, valid)``: ``B x *`` float loss (0 where invalid) and ``B x *`` bool.
    """
    z = logits.float() / temperature
    labelled = mask < z.shape[1]
    partial = mask == NOT_ANNOTATED
    ce = F.cross_entropy(z, torch.where(labelled, mask, torch.zeros_like(mask)), reduction="none")
    loss = torch.where(labelled, ce, torch.zeros_like(ce))
    if annotated is not None and bool(partial.any()):
        loss = torch.where(partial, partial_label_loss(z, annotated.bool()), loss)
    else:
        partial = torch.zeros_like(partial)
    return loss, labelled | partial


def _weighted_mean(loss: torch.Tensor, keep: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    w = keep.float() if weight is None else keep.float() * weight
    return (loss * w).sum() / w.sum().clamp_min(1e-12)


def edge_aware_loss(loss: torch.Tensor, valid: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Mean of the per-pixel loss over valid ground-truth edge pixels (0 when there are none)."""
    return _weighted_mean(loss, valid & edges, None)


def dice_loss(
    logits: torch.Tensor,
    mask: torch.Tensor,
    annotated: torch.Tensor | None = None,
    temperature: float = 1.0,
    weight: torch.Tensor | None = None,
    eps: float = 1.0,
) -> torch.Tensor:
    """``1 - mean soft Dice`` over the classes present in the batch: the soft form of the mean F1.

    Sums run over the whole batch (the F1 of the metric is over a whole set, too), over labelled positions of the
    samples that annotate the class, so partial masks neither reward nor punish a class they do not label.
    Classes absent from the batch are left out: their false positives are the cross-entropy's to punish. A class
    with few pixels pulls as hard as skin does, which is what the rare classes (eyeglasses, hat, earrings,
    necklace) need.

    Args:
        logits: ``B x K x *`` raw logits; divided by ``temperature`` here.
        mask: ``B x *`` class ids (255 ignored, 254 partial: both left out).
        annotated: ``B x K`` bool classes labelled per sample (``None``: all).
        temperature: softmax temperature tau.
        weight: ``B x *`` per-position weight (importance weights of sampled points), so sums estimate full grids.
        eps: smoothing added to numerator and denominator.

    Returns:
        Scalar loss in ``[0, 1]``; 0 when the batch holds no labelled position.
    """
    b, k = logits.shape[:2]
    z = logits.float().reshape(b, k, -1) / temperature
    m = mask.reshape(b, -1)
    labelled = m < k
    w = labelled.float() if weight is None else labelled.float() * weight.reshape(b, -1).float()
    prob = z.softmax(1)  # B x K x N
    onehot = F.one_hot(torch.where(labelled, m, torch.zeros_like(m)), k).permute(0, 2, 1).float()
    per_class = w.unsqueeze(1)  # B x 1 x N
    if annotated is not None:
        per_class = per_class * annotated.float().unsqueeze(-1)  # B x K x N
    inter = (prob * onehot * per_class).sum((0, 2))
    pred = (prob * per_class).sum((0, 2))
    true = (onehot * per_class).sum((0, 2))
    present = true > 0
    if not bool(present.any()):
        return z.sum() * 0.0
    dice = (2 * inter + eps) / (pred + true + eps)
    return 1 - dice[present].mean()


def parsing_loss(
    logits: torch.Tensor,
    mask: torch.Tensor,
    annotated: torch.Tensor | None = None,
    temperature: float = 0.5,
    lambda_edge: float = 10.0,
    edges: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    lambda_dice: float = 0.0,
) -> dict[str, torch.Tensor]:
    """``L = L_cce + lambda * L_e_cce`` (paper eq. 3), with partial labels, plus ``lambda_dice * L_dice``.

    Args:
        logits: ``B x K x H x W`` or ``B x K x N`` raw logits.
        mask: ``B x H x W`` or ``B x N`` class ids (255 ignored, 254 partial).
        annotated: ``B x K`` bool classes labelled per sample (``None``: all).
        temperature: softmax temperature tau (paper 0.5).
        lambda_edge: weight of the edge term (paper: 10 CelebAMask-HQ, 40 LaPa).
        edges: ``B x *`` bool edge map; computed from ``mask`` when it is a 2-D grid and this is ``None``.
        weight: ``B x *`` per-position weight for the plain term (importance weights of sampled points).
        lambda_dice: weight of the soft Dice term (:func:`dice_loss`); 0, the paper's objective, leaves it out.

    Returns:
        Dict with ``loss`` (to backpropagate), ``ce`` and ``edge`` (detached parts), and ``dice`` when it is on.
    """
    if edges is None:
        if mask.dim() != 3:
            raise ValueError(f"edges must be given for sampled points (mask shape {tuple(mask.shape)})")
        edges = label_edges(mask)
    loss, valid = pixel_losses(logits, mask, annotated, temperature)
    ce = _weighted_mean(loss, valid, weight)
    edge = edge_aware_loss(loss, valid, edges)
    parts = {"loss": ce + lambda_edge * edge, "ce": ce.detach(), "edge": edge.detach()}
    if lambda_dice > 0:
        dice = dice_loss(logits, mask, annotated, temperature, weight)
        parts.update(loss=parts["loss"] + lambda_dice * dice, dice=dice.detach())
    return parts
