"""Exponential moving average of the weights, used for validation and export when ``ema`` is on.

PyTorch's :class:`torch.optim.swa_utils.AveragedModel` keeps the averaged copy, its update count and its
state dict; we give it the averaging rule: ``ema = d * ema + (1 - d) * weights`` with the decay ramped up as
``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early averages are not dominated by the random
initialisation (``get_ema_multi_avg_fn`` has a fixed decay). Buffers are averaged too (``use_buffers=True``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

__all__ = ["weight_ema"]


def weight_ema(model: nn.Module, decay: float = 0.999) -> AveragedModel:
    """An EMA of ``model``: call ``.update_parameters(model)`` after each optimiser step; ``.module`` is the
    averaged network."""
    if not 0.0 < decay < 1.0:
        raise ValueError(f"EMA decay must be in (0, 1), got {decay}")

    @torch.no_grad()
    def ramped(averaged: list[torch.Tensor], current: list[torch.Tensor], updates) -> None:
        d = min(decay, (1 + float(updates)) / (10 + float(updates)))
        for avg, cur in zip(averaged, current):
            avg.lerp_(cur, 1 - d)

    ema = AveragedModel(model, multi_avg_fn=ramped, use_buffers=True)
    ema.module.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema
