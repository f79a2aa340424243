"""The inference API: ``FaceParser`` turns images into :class:`ParseResult` objects at any output size."""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .device import resolve_device, resolve_dtype
from .fast import FastOptions, GridAxes, render_grid
from .hub import from_pretrained
from .image import PadBox, blend, colorize, pad_to_square, to_tensor, to_uint8
from .labels import LabelSet
from .models.decoder import LIIFDecoder

__all__ = ["FaceParser", "ParseResult", "output_size", "RENDER_MODES", "DEFAULT_MODE"]

MAX_SIDE = 8192  # beyond this a label map is more likely a mistake than a wish
# How the decoder is rendered onto the output grid (see FaceParser.render). The default refines wherever a
# probability is not saturated, so soft masks are right everywhere (the CLI, the ComfyUI nodes and the demo
# all use it). Measured with the shipped weights, one CPU thread, 3 validation faces: max |probability error|
# against "dense" 0.21 / 0.17 / 0.11 at 256 / 512 / 1024 px (labels-only "fast": 0.89 / 0.91 / 0.91), for
# 2.3x / 2.1x / 1.3x the render time of "fast" (0.085 s instead of 0.036 s at 256 px; about the same at 2048 px).
RENDER_MODES = ("fast-soft", "fast", "dense")
DEFAULT_MODE = "fast-soft"


@dataclass
class ParseResult:
    """The parse of one image.

    Attributes:
        logits: ``K x H x W`` float32 class logits at the output size (CPU).
        label_set: names, colours and groups of the K classes.
        temperature: softmax temperature the model was trained with.
        image: the input resized to the output size, ``3 x H x W`` in [0, 1] (for overlays).
    """

    logits: torch.Tensor
    label_set: LabelSet
    temperature: float
    image: torch.Tensor

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.logits.shape[-2:])

    @property
    def probs(self) -> torch.Tensor:
        """``K x H x W`` class probabilities (softmax of logits / temperature)."""
        return torch.softmax(self.logits / self.temperature, dim=0)

    @property
    def labels(self) -> torch.Tensor:
        """``H x W`` int64 class ids."""
        return self.logits.argmax(dim=0)

    def label_map(self) -> np.ndarray:
        """``H x W`` uint8 class ids, ready to save as a single-channel PNG."""
        return self.labels.to(torch.uint8).numpy()

    def mask(self, selection: str | Iterable[str | int], soft: bool = True) -> torch.Tensor:
        """``H x W`` float mask in [0, 1] of the selected labels and groups (e.g. ``"hair"``, ``"face,ears"``).

        ``soft`` gives the summed probability of the selection; otherwise 1 where the arg-max is selected.
        """
        ids = self.label_set.resolve(selection)
        if soft:
            return self.probs[ids].sum(dim=0).clamp_(0, 1)
        return torch.isin(self.labels, torch.tensor(ids)).float()

    def color_map(self) -> Image.Image:
        """The label map drawn in each class's colour."""
        return Image.fromarray(colorize(self.labels, self.label_set.colors))

    def overlay(self, alpha: float = 0.5) -> Image.Image:
        """The colour map blended over the image; background pixels keep the image."""
        img = to_uint8(self.image.permute(1, 2, 0))
        labels = self.labels.numpy()
        return Image.fromarray(blend(img, colorize(labels, self.label_set.colors), alpha, keep=labels == 0))


def output_size(
    image_hw: tuple[int, int], size: int | Sequence[int] | None = None, scale: float | None = None
) -> tuple[int, int]:
    """Output ``(H, W)``: the image's own size by default; ``size=(H, W)``; ``size=N`` for the longer side
    at ``N`` with the aspect kept; or ``scale`` times the image size."""
    h, w = image_hw
    if size is not None and scale is not None:
        raise ValueError("give an output size or a scale, not both")
    if scale is not None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        out = (round(h * scale), round(w * scale))
    elif size is None:
        out = (h, w)
    elif isinstance(size, numbers.Real):  # also numpy integers and 512.0
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size!r}")
        long_side = max(h, w)
        out = (round(h * size / long_side), round(w * size / long_side))
    else:
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be N or (height, width) of positive integers, got {size!r}")
        out = (int(size[0]), int(size[1]))
    out = (max(out[0], 1), max(out[1], 1))
    if max(out) > MAX_SIDE:
        raise ValueError(f"output size {out[0]}x{out[1]} is over the {MAX_SIDE} px limit; ask for a smaller size")
    return out


class FaceParser:
    """Parse faces with an FP-LIIF model.

    >>> parser = FaceParser.from_pretrained()             # the shipped weights
    >>> result = parser("face.jpg", size=1024)            # long side 1024, aspect kept
    >>> hair = result.mask("hair")                        # soft H x W mask

    Args:
        model: an FP-LIIF model (or a registered baseline).
        device: where to run (see :func:`fpliif.device.resolve_device`); ``None``: where the model is.
        dtype: precision (see :func:`fpliif.device.resolve_dtype`); ``None``: the model's own.
        chunk: decoder queries per call in ``"dense"`` mode (bounds memory).
        mode: one of :data:`RENDER_MODES`; see :meth:`render`.
    """

    def __init__(self, model: nn.Module, device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, chunk: int = 65536, mode: str = DEFAULT_MODE):
        if mode not in RENDER_MODES:
            raise ValueError(f"unknown render mode {mode!r}; use one of {', '.join(RENDER_MODES)}")
        device = resolve_device(device) if device is not None else next(model.parameters()).device
        dtype = resolve_dtype(dtype, device) if dtype is not None else next(model.parameters()).dtype
        self.model = model.to(device=device, dtype=dtype).eval()
        self.device, self.dtype = device, dtype
        self.cfg = model.cfg
        self.label_set: LabelSet = self.cfg.labels
        self.chunk = chunk
        self.mode = mode
        self.fast_options: FastOptions | None = None  # coarse-to-fine knobs (modes "fast*"); None: defaults

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = None, revision: str | None = None,
                        device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = "float32",
                        local_files_only: bool = False, **kwargs) -> FaceParser:
        """A parser on named pretrained weights (default: the shipped ones), a model folder or a Hub repo id.

        ``name_or_path``, ``revision`` and ``local_files_only`` are as for :func:`fpliif.from_pretrained`;
        ``device`` (default ``"auto"``) and ``dtype`` (default float32; ``"auto"``: float16 on CUDA) as for
        :mod:`fpliif.device`; other keyword arguments go to :class:`FaceParser`.
        """
        model = from_pretrained(name_or_path, revision=revision, local_files_only=local_files_only)
        return cls(model, device=device or "auto", dtype=dtype, **kwargs)

    def __call__(self, images, size=None, scale=None, batch_size: int = 8):
        """Parse one image or a list of them; returns a :class:`ParseResult` or a list of them.

        Args:
            images: a path, PIL image, numpy array, ``C x H x W`` tensor, a ``B x C x H x W`` tensor, or a list.
            size: output ``(H, W)``, or an int for the longer side; default the image's own size.
            scale: output size as a multiple of the image size (instead of ``size``).
            batch_size: images encoded at once.
        """
        single = not isinstance(images, (list, tuple)) and not (
            isinstance(images, torch.Tensor) and images.ndim == 4)
        items = [images] if single else list(images)
        results = []
        for start in range(0, len(items), batch_size):
            results.extend(self.parse_batch(items[start:start + batch_size], size, scale))
        return results[0] if single else results

    def parse_frames(self, frames: Iterable, size=None, scale=None, batch_size: int = 8) -> Iterator[ParseResult]:
        """Parse a stream of frames (e.g. :class:`fpliif.video.FrameReader`), yielding one result per frame.

        Frames are taken ``batch_size`` at a time, so memory stays bounded for a video of any length.
        """
        frames = iter(frames)
        while batch := list(itertools.islice(frames, batch_size)):
            yield from self.parse_batch(batch, size, scale)

    @torch.inference_mode()
    def parse_batch(self, images: Sequence, size=None, scale=None) -> list[ParseResult]:
        tensors = [to_tensor(im) for im in images]
        inputs, boxes = zip(*(self.prepare(t) for t in tensors))
        state = self.model.encode(torch.stack(inputs).to(self.device, self.dtype))
        results = []
        for i, (t, box) in enumerate(zip(tensors, boxes)):
            out_h, out_w = output_size((box.height, box.width), size, scale)
            state_i = type(state)(state.features[i:i + 1], state.global_feature[i:i + 1])
            logits = self.render(state_i, box, out_h, out_w)
            image = t if (out_h, out_w) == tuple(t.shape[-2:]) else _resize(t, (out_h, out_w))
            results.append(ParseResult(logits, self.label_set, self.cfg.temperature, image))
        return results

    def prepare(self, image: torch.Tensor) -> tuple[torch.Tensor, PadBox]:
        """``3 x H x W`` in [0, 1] -> padded, resized network input and where the image sits in it."""
        padded, box = pad_to_square(image)
        n = self.cfg.input_size
        return _resize(padded, (n, n)), box

    def render(self, state, box: PadBox, out_h: int, out_w: int) -> torch.Tensor:
        """``K x out_h x out_w`` float32 logits over the original image region.

        ``mode="fast-soft"`` (the default) renders coarse to fine (:mod:`fpliif.fast`) and refines wherever the
        labels change or a probability is not saturated, so labels and soft masks are right; ``"fast"`` refines
        only where labels change (label maps only: probabilities off by up to 0.9 near edges); ``"dense"``
        evaluates the decoder at every pixel (the reference). ``self.fast_options``
        (:class:`fpliif.fast.FastOptions`) tunes the coarse-to-fine modes.
        """
        if self.mode == "dense" or not isinstance(getattr(self.model, "decoder", None), LIIFDecoder):
            coords = box.query_coords(out_h, out_w, device=self.device, dtype=self.dtype)
            logits = self.model.query(state, coords.unsqueeze(0), chunk=self.chunk)[0]
            return logits.float().transpose(0, 1).reshape(-1, out_h, out_w).cpu()
        opts = self.fast_options or FastOptions(chunk=min(self.chunk, 16384))
        if self.mode == "fast-soft":
            opts = replace(opts, soft=True)
        logits = render_grid(self.model.decoder, state, GridAxes.from_box(box, out_h, out_w), out_h, out_w, opts)
        return logits[0].float().cpu()


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic, antialiased resize of ``3 x H x W`` in [0, 1]."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    out = F.interpolate(image[None], size=size, mode="bicubic", antialias=True, align_corners=False)
    return out[0].clamp_(0, 1)
