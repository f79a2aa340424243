"""The paper's ablation baseline: the same encoder with a conv U-Net-type decoder instead of the LIIF decoder.

FP-LIIF's section 4 ablation replaces the LIIF decoder with "a Conv U-Net type decoder". Here the encoder is
FP-LIIF's own (EDSR resblock groups with instance norm, a stride-2 conv between groups); the decoder walks back
up the groups: at each step it upsamples bilinearly, concatenates the output of the encoder group at that
resolution (the skip), and applies two 3x3 conv-norm-ReLU layers; a 1x1 conv gives the class logits at the
input size. With the default config it has about the same number of parameters as FP-LIIF (2.15 M for 19
classes), so a comparison at equal size measures what the implicit decoder adds.

Outputs at other sizes are the input-size logits resized bilinearly, which is what a conv decoder can offer.
The model has FPLIIF's interface (``encode``, ``query``, ``forward``), so ``FaceParser``, ``fpliif eval`` and
training work with it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import FPLIIFConfig
from .encoder import Encoder, conv3x3, make_norm

__all__ = ["UNetBaseline", "UpBlock", "LogitGrid"]


@dataclass
class LogitGrid:
    """The U-Net's encoded state: its input-size logits ``B x K x H x W``, sampled bilinearly by ``query``."""

    logits: torch.Tensor

    def __getitem__(self, index: int | slice) -> LogitGrid:
        return LogitGrid(self.logits[index:index + 1] if isinstance(index, int) else self.logits[index])

    def __len__(self) -> int:
        return self.logits.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.logits.dtype

    @property
    def device(self) -> torch.device:
        return self.logits.device


def conv_norm_relu(cin: int, cout: int, norm: str) -> nn.Sequential:
    return nn.Sequential(conv3x3(cin, cout), make_norm(norm, cout), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Upsample x2 (bilinear), concatenate the skip, then two 3x3 conv-norm-ReLU layers."""

    def __init__(self, channels: int, skip_channels: int, norm: str = "instance"):
        super().__init__()
        self.fuse = conv_norm_relu(channels + skip_channels, channels, norm)
        self.refine = conv_norm_relu(channels, channels, norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """``x`` ``B x C x h x w`` and ``skip`` ``B x S x H x W`` -> ``B x C x H x W``."""
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(self.fuse(torch.cat([x, skip], dim=1)))


class UNetBaseline(nn.Module):
    """FP-LIIF's encoder with a conv U-Net decoder; logits at the input size, resized to any other.

    Images are ``B x 3 x H x W`` floats in [0, 1] with H and W multiples of ``cfg.scale``; the config's mean and
    std are applied inside. Uses ``cfg.width``, ``cfg.blocks``, ``cfg.norm``, ``cfg.label_names``; the LIIF-only
    fields (``unfold``, ``reduce_hidden``, ``feature_dim``, ``mlp_hidden``, ``local_ensemble``) are ignored.
    """

    def __init__(self, cfg: FPLIIFConfig):
        super().__init__()
        self.cfg = cfg
        width = cfg.width
        self.encoder = Encoder(cfg)
        self.bottleneck = nn.Sequential(conv_norm_relu(width, width, cfg.norm), conv_norm_relu(width, width, cfg.norm))
        self.ups = nn.ModuleList(UpBlock(width, width, cfg.norm) for _ in cfg.blocks[1:])
        self.classifier = nn.Conv2d(width, cfg.num_classes, 1)
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, -1, 1, 1), persistent=False)

    def encoder_pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Normalised images -> the output of each encoder group, finest first (``B x width x H/2^i x W/2^i``)."""
        enc = self.encoder
        x = enc.head(x)
        outputs = []
        for i, group in enumerate(enc.groups):
            x = group(x)
            outputs.append(x)
            if i < len(enc.downs):
                x = enc.downs[i](x)
        return outputs

    def logits_at_input(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``B x 3 x H x W`` in [0, 1] -> logits ``B x K x H x W``."""
        h, w = images.shape[-2:]
        s = self.cfg.scale
        if h % s or w % s:
            raise ValueError(f"the U-Net baseline needs H and W divisible by {s}, got {h}x{w}; resize or pad the input")
        pyramid = self.encoder_pyramid((images - self.mean) / self.std)
        x = self.bottleneck(pyramid[-1])
        for up, skip in zip(self.ups, reversed(pyramid[:-1])):
            x = up(x, skip)
        return self.classifier(x)

    def encode(self, images: torch.Tensor) -> LogitGrid:
        """Images -> their input-size logits ``B x K x H x W``."""
        return LogitGrid(self.logits_at_input(images))

    def query(self, state: LogitGrid, coords: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Logits ``B x N x K`` at coordinates ``B x N x 2`` (``(y, x)`` in [-1, 1]), by bilinear interpolation.

        ``chunk`` is accepted for FPLIIF compatibility; sampling a logit grid needs no chunking.
        """
        grid = coords.flip(-1).unsqueeze(1).to(state.dtype)  # grid_sample wants (x, y): B x 1 x N x 2
        sampled = F.grid_sample(state.logits, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return sampled[:, :, 0].transpose(1, 2)

    def forward(
        self, images: torch.Tensor, size: tuple[int, int] | None = None, chunk: int | None = None
    ) -> torch.Tensor:
        """Logits ``B x K x H x W`` at the input size, or resized bilinearly to ``size``."""
        logits = self.logits_at_input(images)
        if size is None or tuple(size) == tuple(logits.shape[-2:]):
            return logits
        return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)

