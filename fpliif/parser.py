"""The inference API: ``FaceParser`` turns photos into :class:`~fpliif.result.ParseResult` objects at any size.

Reading order: :meth:`FaceParser.parse_batch` finds the faces of each photo (:mod:`fpliif.detect`), aligns each
to the framing the weights were trained on (:mod:`fpliif.align`), encodes the aligned crops in one batch, and
gives each photo a result whose regions query the decoder at the photo's own output pixels mapped into each
face's crop. With no face found, or ``faces="none"``, the whole photo is the network's input (padded to a
square), as for a photo that is already a face crop.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .align import Alignment, estimate_alignment
from .device import resolve_device, resolve_dtype
from .hub import from_pretrained
from .image import PadBox, pad_to_square, to_tensor
from .models.flip import with_tta
from .render import OutputGrid, RenderOptions
from .result import ParseResult, decoder_region

__all__ = ["FaceParser", "ParseResult", "Face", "output_size", "RENDER_MODES", "FACE_MODES"]

MAX_SIDE = 8192  # beyond this a label map is more likely a mistake than a wish
# How the decoder is rendered: "fast" coarse to fine (labels exact where they change, soft masks refined wherever
# a probability changes: see fpliif.result), "dense" at every output pixel (the reference, far slower).
RENDER_MODES = ("fast", "dense")
# Which faces to parse: "auto" (the default; "all" is the same) finds every face and parses each aligned to the
# training framing, also a face that fills the photo (measured on the val split with augmentation-trained
# weights: aligned 51.2 against whole 51.9 mean F1, and far fewer stray labels on photos that are not CelebA
# crops); "largest" only the largest; "none" parses the whole photo as it is. With no face found, the whole photo
# is parsed and the result says so.
FACE_MODES = ("auto", "all", "largest", "none")


@dataclass
class Face:
    """A face found in a photo and parsed aligned.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in the photo's pixels (the detector's box, brows to chin).
        score: detection confidence in [0, 1].
        landmarks: ``6 x 2`` ``(x, y)`` photo pixels: right eye, left eye, nose tip, mouth centre, right and left
            ear tragion (the person's right and left).
        alignment: the similarity between the network's crop and the photo.
        region: index of the face's region in :attr:`ParseResult.regions`.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    alignment: Alignment
    region: int = -1

    @property
    def crop_box(self) -> tuple[float, float, float, float]:
        """The axis-aligned box ``(x0, y0, x1, y1)`` around the parsed crop: head, hair and neck, what a detailer
        wants."""
        xy = self.alignment.corners()
        return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def output_size(
    image_hw: tuple[int, int], size: int | Sequence[int] | None = None, scale: float | None = None
) -> tuple[int, int]:
    """Output ``(H, W)``: the image's own size by default; ``size=(H, W)``; ``size=N`` for the longer side
    at ``N`` with the aspect kept; or ``scale`` times the image size."""
    h, w = image_hw
    if size is not None and scale is not None:
        raise ValueError("give an output size or a scale, not both")
    if scale is not None:
        if not (isinstance(scale, numbers.Real) and 0 < scale < float("inf")):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}")
        out = (round(h * scale), round(w * scale))
    elif size is None:
        out = (h, w)
    elif isinstance(size, numbers.Real):  # also numpy integers and 512.0
        if not 1 <= size < float("inf"):
            raise ValueError(f"size must be a number of pixels >= 1, got {size!r}")
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
    """Parse the faces of photos with an FP-LIIF model.

    >>> parser = FaceParser.from_pretrained()             # the shipped weights
    >>> result = parser("group.jpg")                      # every face, aligned, painted back at the photo's size
    >>> result.faces[0].box, result.mask("hair", face=0)  # the largest face and its hair
    >>> parser("face.png", faces="none", size=1024)       # a pre-cropped face, parsed as it is, at 1024 px

    Args:
        model: an FP-LIIF model (or a registered baseline).
        device: where to run (see :func:`fpliif.device.resolve_device`); ``None``: where the model is.
        dtype: precision (see :func:`fpliif.device.resolve_dtype`); ``None``: the model's own.
        chunk: decoder queries per call (bounds memory).
        mode: one of :data:`RENDER_MODES`.
        faces: the default of :meth:`__call__`'s ``faces`` (one of :data:`FACE_MODES`).
        detector: a :class:`fpliif.detect.FaceDetector` (default: the shipped one, loaded on first use).
        tta: test-time augmentation, one of :data:`~fpliif.models.flip.TTA_MODES`: ``"flip"`` also parses each
            face mirrored and averages the probabilities (:class:`~fpliif.models.flip.FlipEnsemble`): about half a
            point of mean F1 for twice the network time.
    """

    def __init__(self, model: nn.Module, device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, chunk: int = 65536, mode: str = "fast",
                 faces: str = "auto", detector=None, tta: str = "none"):
        if mode not in RENDER_MODES:
            raise ValueError(f"unknown render mode {mode!r}; use one of {', '.join(RENDER_MODES)}")
        _check_faces(faces)
        model = with_tta(model, tta)
        device = resolve_device(device) if device is not None else next(model.parameters()).device
        dtype = resolve_dtype(dtype, device) if dtype is not None else next(model.parameters()).dtype
        self.model = model.to(device=device, dtype=dtype).eval()
        self.device, self.dtype = device, dtype
        self.cfg = model.cfg
        self.label_set = self.cfg.labels
        self.chunk, self.mode, self.faces, self.tta = chunk, mode, faces, tta
        self.render_options = RenderOptions(chunk=min(chunk, 16384))
        self._detector = detector

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

    @property
    def detector(self):
        """The face detector (the shipped BlazeFace unless one was given), loaded on first use."""
        if self._detector is None:
            from .detect import FaceDetector

            self._detector = FaceDetector.from_pretrained(device=self.device)
        return self._detector

    def __call__(self, images, size=None, scale=None, batch_size: int = 8,
                 faces: str | int | Sequence[int] | None = None, min_face_score: float | None = None):
        """Parse one image or a list of them; returns a :class:`ParseResult` or a list of them.

        Args:
            images: a path, PIL image, numpy array, ``C x H x W`` tensor, a ``B x C x H x W`` tensor, or a list.
            size: output ``(H, W)``, or an int for the longer side; default the image's own size.
            scale: output size as a multiple of the image size (instead of ``size``).
            batch_size: face crops (or whole images) encoded at once.
            faces: which faces (default: the parser's ``faces``): ``"auto"``, ``"all"``, ``"largest"``, ``"none"``
                (see :data:`FACE_MODES`), or face indices (largest first) to parse only those.
            min_face_score: detection confidence a face needs, in (0, 1) (default: the detector's own, 0.6).
        """
        _check_batch_size(batch_size)
        single = not isinstance(images, (list, tuple)) and not (
            isinstance(images, torch.Tensor) and images.ndim == 4)
        items = [images] if single else list(images)
        results = []
        for start in range(0, len(items), batch_size):
            results.extend(self.parse_batch(items[start:start + batch_size], size, scale, faces, min_face_score))
        return results[0] if single else results

    def parse_frames(self, frames: Iterable, size=None, scale=None, batch_size: int = 8,
                     faces: str | int | Sequence[int] | None = None,
                     min_face_score: float | None = None) -> Iterator[ParseResult]:
        """Parse a stream of frames (e.g. :class:`fpliif.video.FrameReader`), yielding one result per frame.

        Frames are taken ``batch_size`` at a time, so memory stays bounded for a video of any length.
        """
        _check_batch_size(batch_size)
        frames = iter(frames)
        while batch := list(itertools.islice(frames, batch_size)):
            yield from self.parse_batch(batch, size, scale, faces, min_face_score)

    @torch.inference_mode()
    def parse_batch(self, images: Sequence, size=None, scale=None, faces: str | int | Sequence[int] | None = None,
                    min_face_score: float | None = None) -> list[ParseResult]:
        """Parse a list of images (all their face crops are encoded together)."""
        faces = self.faces if faces is None else faces
        _check_faces(faces)
        if min_face_score is not None and not 0 < min_face_score < 1:
            raise ValueError(f"min_face_score must lie between 0 and 1 (exclusive), got {min_face_score}")
        tensors = [to_tensor(im) for im in images]
        plans = [self.plan(t, faces, min_face_score) for t in tensors]
        crops = [crop for plan in plans for crop in plan[1]]
        states = self.encode(torch.stack(crops)) if crops else None
        results, used = [], 0
        for t, (how, inputs, layout) in zip(tensors, plans):
            h, w = t.shape[-2:]
            out_h, out_w = output_size((h, w), size, scale)
            result = self.compose(t, (out_h, out_w), how, layout, states, used)
            used += len(inputs)
            results.append(result)
        return results

    def plan(self, image: torch.Tensor, faces, min_face_score: float | None = None
             ) -> tuple[str, list[torch.Tensor], list]:
        """What to encode for one image: ``(how, network inputs, layout)``; ``layout`` is a list of
        :class:`Face` (aligned faces) or one :class:`~fpliif.image.PadBox` (the whole image)."""
        n = self.cfg.input_size
        if faces == "none":
            return "whole image", *self._whole(image)
        found = self.find_faces(image, min_face_score)
        if isinstance(faces, (int, np.integer)) or not isinstance(faces, str):
            wanted = [int(faces)] if isinstance(faces, (int, np.integer)) else [int(i) for i in faces]
            missing = [i for i in wanted if not 0 <= i < len(found)]
            if missing:
                raise ValueError(f"no face {missing[0]}: {len(found)} face(s) found in this image "
                                 f"(indices 0..{len(found) - 1}, largest first)")
            found = [found[i] for i in wanted]
        elif faces == "largest":
            found = found[:1]
        if not found:
            return "no face found: parsed the whole image", *self._whole(image)
        return f"{len(found)} face(s)", [f.alignment.warp(image, n) for f in found], found

    def _whole(self, image: torch.Tensor) -> tuple[list[torch.Tensor], list[PadBox]]:
        padded, box = pad_to_square(image)
        n = self.cfg.input_size
        return [_resize(padded, (n, n))], [box]

    def find_faces(self, image: torch.Tensor, min_score: float | None = None) -> list[Face]:
        """The faces in ``image`` (``3 x H x W`` in [0, 1]), largest first, with their alignments."""
        found = self.detector(image, min_score=min_score)
        out = []
        for f in found:
            landmarks = f.landmarks.double().numpy()
            out.append(Face(f.box, f.score, landmarks, estimate_alignment(landmarks)))
        return out

    def encode(self, crops: torch.Tensor):
        """Network inputs ``B x 3 x S x S`` -> the decoder state of each."""
        return self.model.encode(crops.to(self.device, self.dtype))

    def compose(self, image: torch.Tensor, out_hw: tuple[int, int], how: str, layout: list, states,
                first: int) -> ParseResult:
        """The result of one image from its encoded crops ``states[first:first + len(layout)]``."""
        out_h, out_w = out_hw
        h, w = image.shape[-2:]
        regions, faces = [], []
        for k, item in enumerate(layout):
            state = states[first + k]
            if isinstance(item, PadBox):
                grid = OutputGrid.from_box(item, out_h, out_w)
                regions.append(decoder_region(self.model, state, grid, (0, 0, out_h, out_w), self.render_options,
                                              self.mode))
                continue
            box = item.alignment.region(h, w, out_h, out_w)
            if box is None:
                continue
            grid = item.alignment.output_grid(h, w, out_h, out_w, box[0], box[1])
            item.region = len(regions)
            regions.append(decoder_region(self.model, state, grid, box, self.render_options, self.mode, face=item,
                                          clip=True))
            faces.append(item)
        return ParseResult((out_h, out_w), self.label_set, self.cfg.temperature, image, regions, faces, how=how)


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")


def _check_faces(faces) -> None:
    if isinstance(faces, str):
        if faces not in FACE_MODES:
            raise ValueError(f"faces must be one of {', '.join(FACE_MODES)} or face indices, got {faces!r}")
    elif not isinstance(faces, (int, np.integer)) and not (
            isinstance(faces, Sequence) and all(isinstance(i, (int, np.integer)) for i in faces)):
        raise ValueError(f"faces must be one of {', '.join(FACE_MODES)} or face indices, got {faces!r}")


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic, antialiased resize of ``3 x H x W`` in [0, 1]."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    out = F.interpolate(image[None], size=size, mode="bicubic", antialias=True, align_corners=False)
    return out[0].clamp_(0, 1)
