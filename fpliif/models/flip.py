"""Flip test-time augmentation: parse the image and its mirror, and average their class probabilities.

A face is close to left-right symmetric, so the mirrored input is a second, nearly independent look at it. The
decoder is a function of the coordinate, so no output image is flipped back: the mirrored image is queried at the
mirrored coordinate ``(y, -x)`` and its left and right classes swapped (``LabelSet.mirror_permutation``). The
result is still a continuous function of the coordinate, so everything that renders a model (the coarse-to-fine
renderer, :class:`fpliif.FaceParser`, :func:`fpliif.evaluate.evaluate_dataset`) takes :class:`FlipEnsemble` as it
is. Twice the network cost for about half a point of val mean F1 (measured in ``docs/training-default.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FlipEnsemble", "FlipState", "TTA_MODES", "with_tta"]

TTA_MODES = ("none", "flip")


@dataclass
class FlipState:
    """The decoder states of a batch and of its mirror image."""

    plain: object
    mirrored: object

    def __getitem__(self, index: int | slice) -> FlipState:
        return FlipState(self.plain[index], self.mirrored[index])

    def __len__(self) -> int:
        return len(self.plain)

    @property
    def grid(self) -> tuple[int, int]:
        return self.plain.grid

    @property
    def dtype(self) -> torch.dtype:
        return self.plain.dtype

    @property
    def device(self) -> torch.device:
        return self.plain.device


class FlipEnsemble(nn.Module):
    """A model that answers with the average of its probabilities on the image and on its mirror.

    ``encode``, ``query`` and ``forward`` are those of the wrapped model; ``decoder.query_logits`` is there when
    the wrapped model has a LIIF decoder, so the coarse-to-fine renderer works on it. Logits come back as
    ``temperature * log(mean probability)``, so a softmax at the model's temperature gives the averaged
    probabilities exactly and the arg-max is the averaged vote.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.cfg = model.cfg
        self.register_buffer("mirror", torch.tensor(model.cfg.labels.mirror_permutation()), persistent=False)
        inner = getattr(model, "decoder", None)
        self.decoder = _FlipDecoder(self, inner) if hasattr(inner, "query_logits") else None

    def encode(self, images: torch.Tensor) -> FlipState:
        """Images ``B x 3 x H x W`` -> the states of the images and of their mirror images."""
        return FlipState(self.model.encode(images), self.model.encode(images.flip(-1)))

    def query(self, state: FlipState, coords: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Merged logits ``B x N x K`` at coordinates ``B x N x 2`` (``(y, x)`` in [-1, 1])."""
        return self.merge(self.model.query(state.plain, coords, chunk),
                          self.model.query(state.mirrored, mirror_coords(coords), chunk))

    def forward(self, images: torch.Tensor, size: tuple[int, int] | None = None,
                chunk: int | None = None) -> torch.Tensor:
        """Merged logits ``B x K x H x W`` on a regular grid, as the wrapped model's ``forward``."""
        plain = self.model(images, size=size, chunk=chunk)
        mirrored = self.model(images.flip(-1), size=size, chunk=chunk).flip(-1)
        return self.merge(plain.movedim(1, -1), mirrored.movedim(1, -1)).movedim(-1, 1)

    def merge(self, plain: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
        """``... x K`` logits of the image and of its mirror (mirror's classes) -> logits of the mean probability."""
        t = self.cfg.temperature
        mirrored = mirrored[..., self.mirror]
        both = torch.logaddexp(F.log_softmax(plain.float() / t, dim=-1), F.log_softmax(mirrored.float() / t, dim=-1))
        return (t * (both - math.log(2))).to(plain.dtype)


class _FlipDecoder:
    """``query_logits`` of a :class:`FlipEnsemble` over the wrapped LIIF decoder (what the renderer calls)."""

    def __init__(self, owner: FlipEnsemble, inner: nn.Module):
        self._owner, self._inner = owner, inner
        self.cfg = inner.cfg

    def query_logits(self, state: FlipState, coords: torch.Tensor) -> torch.Tensor:
        return self._owner.merge(self._inner.query_logits(state.plain, coords),
                                 self._inner.query_logits(state.mirrored, mirror_coords(coords)))


def mirror_coords(coords: torch.Tensor) -> torch.Tensor:
    """``(y, x)`` -> ``(y, -x)``: where a point of the image lies in its mirror image."""
    return coords * coords.new_tensor([1.0, -1.0])


def with_tta(model: nn.Module, tta: str = "none") -> nn.Module:
    """``model`` with test-time augmentation ``tta`` (one of :data:`TTA_MODES`)."""
    if tta not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {', '.join(TTA_MODES)}")
    if tta == "flip" and not isinstance(model, FlipEnsemble):
        return FlipEnsemble(model)
    return model
