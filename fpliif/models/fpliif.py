"""FP-LIIF: the encoder and the LIIF decoder put together (paper section 3)."""

from __future__ import annotations

import torch
from torch import nn

from ..config import FPLIIFConfig
from .decoder import DecoderState, LIIFDecoder, make_coord
from .encoder import Encoder

__all__ = ["FPLIIF"]


class FPLIIF(nn.Module):
    """Face parsing as a local implicit image function.

    ``model(images)`` gives logits at the input size; ``model(images, size=(H, W))`` at any size, since
    the decoder answers continuous coordinates. Images are ``B x 3 x H x W`` floats in [0, 1]; the
    config's mean and std are applied here, so callers never normalise.
    """

    def __init__(self, cfg: FPLIIFConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = LIIFDecoder(cfg)
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, -1, 1, 1), persistent=False)

    def encode(self, images: torch.Tensor) -> DecoderState:
        """Images ``B x 3 x H x W`` in [0, 1] -> decoder state (one first-layer row per latent cell)."""
        return self.decoder.prepare(self.encoder((images - self.mean) / self.std))

    def query(self, state: DecoderState, coords: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Logits ``B x N x K`` at coordinates ``B x N x 2`` (``(y, x)`` in [-1, 1]), ``chunk`` queries at a time."""
        if chunk is None or coords.shape[1] <= chunk:
            return self.decoder.query_logits(state, coords)
        parts = [self.decoder.query_logits(state, c) for c in coords.split(chunk, dim=1)]
        return torch.cat(parts, dim=1)

    def forward(
        self, images: torch.Tensor, size: tuple[int, int] | None = None, chunk: int | None = None
    ) -> torch.Tensor:
        """Logits ``B x K x H x W`` on a regular ``size`` grid over the whole image (default: the input size)."""
        b, _, h, w = images.shape
        out_h, out_w = size or (h, w)
        state = self.encode(images)
        coords = make_coord((out_h, out_w), device=images.device, dtype=state.dtype)
        logits = self.query(state, coords.unsqueeze(0).expand(b, -1, -1), chunk)
        return logits.transpose(1, 2).reshape(b, -1, out_h, out_w)
