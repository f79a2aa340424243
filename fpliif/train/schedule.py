"""Learning-rate schedules as a pure function of the step: ``lr_at(step)``, so resume needs only the step.

Why not ``torch.optim.lr_scheduler``: its schedulers are stateful (they count ``step()`` calls and keep
``last_epoch`` in a state dict), so an exact resume needs their state too, and a schedule changed on resume
(``fpliif train --resume RUN --schedule cosine``) would need a new scheduler fast-forwarded to the step. A pure
function of the step does both for free and is what ``LambdaLR`` would wrap anyway.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

__all__ = ["SCHEDULES", "LRSchedule"]

SCHEDULES = ("step", "cosine", "constant")


@dataclass
class LRSchedule:
    """Learning rate per optimiser step.

    Attributes:
        name: ``"step"`` (the paper: x ``gamma`` every ``decay_epochs``), ``"cosine"`` (linear warmup then
            cosine to ``min_ratio * lr``) or ``"constant"`` (after warmup).
        lr: base learning rate (paper 5e-4).
        total_steps: length of the run in steps (cosine ends here).
        steps_per_epoch: for the step schedule's epochs.
        warmup_steps: linear warmup from ``lr / 100`` (cosine and constant; the paper's step schedule has none).
        decay_epochs, gamma: the step schedule (paper: 20 and 0.1).
        min_ratio: cosine floor as a fraction of ``lr``.
    """

    name: str = "step"
    lr: float = 5e-4
    total_steps: int = 1
    steps_per_epoch: int = 1
    warmup_steps: int = 0
    decay_epochs: int = 20
    gamma: float = 0.1
    min_ratio: float = 0.01

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; choose one of {', '.join(SCHEDULES)}")
        if self.lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")

    def lr_at(self, step: int) -> float:
        """The learning rate for optimiser step ``step`` (0-based)."""
        if self.name == "step":
            epoch = step // max(1, self.steps_per_epoch)
            return self.lr * self.gamma ** (epoch // max(1, self.decay_epochs))
        if step < self.warmup_steps:
            return self.lr * (0.01 + 0.99 * (step + 1) / self.warmup_steps)
        if self.name == "constant":
            return self.lr
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.lr * (self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group's learning rate for ``step``; returns it."""
        lr = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def state_dict(self) -> dict:
        return asdict(self)
