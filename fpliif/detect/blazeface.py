"""BlazeFace networks (MediaPipe face detection, Apache-2.0) ported to PyTorch.

Two variants, layer for layer the graphs of MediaPipe's ``face_detection_full_range.tflite`` (192 x 192 input,
one 48 x 48 head behind a small feature pyramid) and ``face_detection_short_range.tflite`` (128 x 128 input,
heads at 16 x 16 and 8 x 8). ``scripts/convert_blazeface.py`` copies the tflite weights into these modules once;
the port matches the tflite runtime to float rounding (see ``docs/face-detection.md``).

TFLite pads "SAME" convolutions of stride 2 on the bottom/right only, so strided layers pad explicitly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BlazeBlock", "BlazeFace", "FULL_RANGE_BLOCKS", "SHORT_RANGE_BLOCKS"]

# (in, mid, out, stride) of each backbone block; mid = 0 for the single (depthwise + pointwise) block.
FULL_RANGE_BLOCKS = (
    (32, 8, 32, 1), (32, 8, 32, 1), (32, 12, 48, 2), (48, 12, 48, 1), (48, 16, 64, 1),
    (64, 24, 96, 2), (96, 32, 128, 1), (128, 32, 128, 1), (128, 36, 144, 2), (144, 48, 192, 1),
    (192, 64, 256, 1), (256, 96, 384, 2), (384, 96, 384, 1), (384, 96, 384, 1), (384, 96, 384, 1),
)
SHORT_RANGE_BLOCKS = (
    (24, 0, 24, 1), (24, 0, 28, 1), (28, 0, 32, 2), (32, 0, 36, 1), (36, 0, 42, 1), (42, 0, 48, 2),
    (48, 0, 56, 1), (56, 0, 64, 1), (64, 0, 72, 1), (72, 0, 80, 1), (80, 0, 88, 1), (88, 0, 96, 2),
    (96, 0, 96, 1), (96, 0, 96, 1), (96, 0, 96, 1), (96, 0, 96, 1),
)
# Backbone blocks whose outputs feed the full-range feature pyramid (48x48, 24x24, 12x12, 6x6 for a 192 input).
FULL_RANGE_TAPS = (4, 7, 10, 14)


def _pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TFLite "SAME" padding for an even input: the extra row/column goes bottom/right."""
    total = max(kernel - stride, 0)
    before = total // 2
    return F.pad(x, (before, total - before, before, total - before))


class BlazeBlock(nn.Module):
    """Depthwise 3x3 -> pointwise (-> ReLU -> depthwise 3x3 -> pointwise when ``mid``), plus a skip, then ReLU.

    The skip is max-pooled when ``stride`` is 2 and zero-padded in channels when ``out > in``, as in the graphs.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        first_out = mid_channels or out_channels
        self.dw1 = nn.Conv2d(in_channels, in_channels, 3, stride, padding=0 if stride == 2 else 1, groups=in_channels)
        self.pw1 = nn.Conv2d(in_channels, first_out, 1)
        self.dw2 = self.pw2 = None
        if mid_channels:
            self.dw2 = nn.Conv2d(mid_channels, mid_channels, 3, padding=1, groups=mid_channels)
            self.pw2 = nn.Conv2d(mid_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pw1(self.dw1(_pad_same(x, 3, 2) if self.stride == 2 else x))
        if self.dw2 is not None:
            h = self.pw2(self.dw2(h.relu_()))
        skip = F.max_pool2d(x, 2) if self.stride == 2 else x
        if self.extra_channels:  # the graph zero-pads the skip's channels: add it to the first ones only
            h[:, : skip.shape[1]] += skip
            return h.relu_()
        return h.add_(skip).relu_()


class _PyramidLevel(nn.Module):
    """Upsample the coarser level, add a lateral 1x1 of the backbone tap, refine with double BlazeBlocks."""

    def __init__(self, coarse: int, lateral: int, out: int, mid: int, refine: int):
        super().__init__()
        self.reduce = nn.Conv2d(coarse, out, 1)
        self.lateral = nn.Conv2d(lateral, out, 1)
        self.refine = nn.Sequential(*[BlazeBlock(out, mid, out) for _ in range(refine)])

    def forward(self, coarse: torch.Tensor, tap: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.reduce(coarse).relu_(), size=tap.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(self.lateral(tap).relu_().add_(up))


class BlazeFace(nn.Module):
    """A BlazeFace detector network: ``B x 3 x S x S`` in [-1, 1] -> raw (regressors, classifier logits).

    Args:
        variant: ``"full"`` (192 px input, 2304 anchors) or ``"short"`` (128 px input, 896 anchors).

    Returns from ``forward``: regressors ``B x N x 16`` (box centre x, y, width, height, then six keypoints x, y,
    in input pixels relative to the anchor) and logits ``B x N``, anchors in MediaPipe's order.
    """

    def __init__(self, variant: str = "full"):
        super().__init__()
        if variant not in ("full", "short"):
            raise ValueError(f"BlazeFace variant must be 'full' or 'short', got {variant!r}")
        self.variant = variant
        blocks = FULL_RANGE_BLOCKS if variant == "full" else SHORT_RANGE_BLOCKS
        self.stem_kernel = 3 if variant == "full" else 5
        self.stem = nn.Conv2d(3, blocks[0][0], self.stem_kernel, stride=2)
        self.backbone = nn.ModuleList(BlazeBlock(*spec) for spec in blocks)
        if variant == "full":
            self.pyramid = nn.ModuleList([
                _PyramidLevel(384, 256, 96, 48, 2), _PyramidLevel(96, 128, 64, 32, 2), _PyramidLevel(64, 64, 48, 24, 1),
            ])
            self.classifiers = nn.ModuleList([nn.Conv2d(48, 1, 1)])
            self.regressors = nn.ModuleList([nn.Conv2d(48, 16, 1)])
        else:
            self.classifiers = nn.ModuleList([nn.Conv2d(88, 2, 1), nn.Conv2d(96, 6, 1)])
            self.regressors = nn.ModuleList([nn.Conv2d(88, 32, 1), nn.Conv2d(96, 96, 1)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(_pad_same(x, self.stem_kernel, 2)).relu_()
        taps = []
        for block in self.backbone:
            x = block(x)
            taps.append(x)
        if self.variant == "full":
            x = taps[FULL_RANGE_TAPS[-1]]
            for level, tap in zip(self.pyramid, reversed(FULL_RANGE_TAPS[:-1])):
                x = level(x, taps[tap])
            heads = [x]
        else:
            heads = [taps[10], taps[15]]
        return self._flatten(self.regressors, heads, 16), self._flatten(self.classifiers, heads, 1).squeeze(-1)

    @staticmethod
    def _flatten(convs: nn.ModuleList, heads: list[torch.Tensor], width: int) -> torch.Tensor:
        """Run each head conv and lay its output out as TFLite does: ``B x (H * W * anchors) x width``."""
        outs = [conv(h).permute(0, 2, 3, 1).reshape(h.shape[0], -1, width) for conv, h in zip(convs, heads)]
        return torch.cat(outs, dim=1)
