"""EDSR-style image encoder with instance-normalised resblocks (paper section 3.2, Figs. 2 and 5)."""

from __future__ import annotations

import torch
from torch import nn

from ..config import FPLIIFConfig

__all__ = ["Encoder", "ResBlock", "ResGroup"]


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class ResBlock(nn.Module):
    """conv -> norm -> ReLU -> conv -> norm, plus the skip."""

    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(channels, channels), make_norm(norm, channels), nn.ReLU(inplace=True),
            conv3x3(channels, channels), make_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResGroup(nn.Module):
    """A series of resblocks with a residual connection from the group's input."""

    def __init__(self, channels: int, num_blocks: int, norm: str = "instance"):
        super().__init__()
        self.blocks = nn.Sequential(*(ResBlock(channels, norm) for _ in range(num_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.blocks(x)


class Encoder(nn.Module):
    """Image ``B x 3 x H x W`` -> latent grid Z ``B x width x H/s x W/s`` (s = 4 for the paper's 3 groups).

    A 3x3 head conv, then resblock groups (2, 6 and 16 resblocks in the paper) with a stride-2 3x3
    conv between consecutive groups.
    """

    def __init__(self, cfg: FPLIIFConfig):
        super().__init__()
        self.head = conv3x3(cfg.in_channels, cfg.width)
        self.groups = nn.ModuleList(ResGroup(cfg.width, n, cfg.norm) for n in cfg.blocks)
        self.downs = nn.ModuleList(conv3x3(cfg.width, cfg.width, stride=2) for _ in cfg.blocks[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        for i, group in enumerate(self.groups):
            x = group(x)
            if i < len(self.downs):
                x = self.downs[i](x)
        return x
