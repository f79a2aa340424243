"""``FaceDetector``: every face in a photo of any size, with a box, a score and six keypoints.

The shipped network is MediaPipe's full-range BlazeFace (192 x 192 input). A photo is seen as the whole image
letterboxed (as MediaPipe does) plus the whole image at finer scales (``pyramid.py``); detections from every
level are decoded as MediaPipe does and blended by its weighted NMS, in image pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from ..hub import load_state_dict
from ..image import to_tensor
from .anchors import decode, ssd_anchors, weighted_nms
from .blazeface import BlazeFace
from .config import DetectorConfig
from .pyramid import Level, plan_scales, pyramid_inputs

__all__ = ["FaceDetector", "DetectedFace", "default_detector_dir"]

WEIGHTS_NAME = "model.safetensors"
MIN_FACE = 24.0  # default smallest face (pixels), when the pixel budget allows it


def default_detector_dir() -> Path:
    """Where the package's BlazeFace weights live (converted once by ``scripts/convert_blazeface.py``)."""
    return Path(__file__).resolve().parent.parent / "weights" / "blazeface"


@dataclass
class DetectedFace:
    """One face found in an image, in that image's pixels.

    Attributes:
        box: ``(x0, y0, x1, y1)``, the face from about the brows to the chin.
        score: detection confidence in [0, 1].
        landmarks: ``6 x 2`` float32 ``(x, y)``: right eye, left eye, nose tip, mouth centre, right ear tragion,
            left ear tragion; right/left are the person's (in an unmirrored photo the person's right eye has
            the smaller x). Names in :data:`fpliif.detect.KEYPOINT_NAMES`.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: torch.Tensor

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


class FaceDetector:
    """BlazeFace over a whole photo. Call it with an image; get :class:`DetectedFace` s, largest first.

    Args:
        net: a :class:`BlazeFace` with its weights loaded.
        cfg: the matching :class:`DetectorConfig`.
    """

    def __init__(self, net: BlazeFace, cfg: DetectorConfig):
        if net.variant != cfg.variant:
            raise ValueError(f"network variant {net.variant!r} does not match config variant {cfg.variant!r}")
        self.net = net.eval().to(memory_format=torch.channels_last)  # about 2x faster on CPU for these convs
        self.cfg = cfg

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> FaceDetector:
        """Load a detector folder (``config.json`` + ``model.safetensors``); the shipped one by default.

        Loaded once per (folder, device, dtype) and shared: the detector holds no per-call state.
        """
        folder = Path(path) if path is not None else default_detector_dir()
        return _load(folder.resolve(), torch.device(device or "cpu"), dtype or torch.float32)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.net.parameters()).dtype

    @torch.inference_mode()
    def __call__(self, image, min_score: float | None = None, min_face: float | None = None) -> list[DetectedFace]:
        """Find the faces in one image.

        Args:
            image: ``3 x H x W`` float tensor in [0, 1] (any device), a PIL image, an ``H x W x 3`` uint8 array
                or a path.
            min_score: keep detections at least this confident (default: the config's, MediaPipe's 0.6).
            min_face: smallest face to look for, in pixels (its longer side, forehead to chin). Default: 24 px,
                raised on large photos until the pyramid fits the config's pixel budget (see ``scales``).

        Returns:
            The faces, largest box first.
        """
        pixels = self._prepare(image)
        min_score = self.cfg.min_score if min_score is None else float(min_score)
        if not 0 < min_score < 1:
            raise ValueError(f"min_score must lie in (0, 1), got {min_score}")
        _, height, width = pixels.shape
        boxes, keypoints, scores = [], [], []
        for net_input, level in pyramid_inputs(pixels, self.scales(height, width, min_face), self.cfg.input_size):
            found = self._detect_level(net_input, level, min_score)
            for out, part in zip((boxes, keypoints, scores), found):
                out.append(part)
        boxes, keypoints, scores = torch.cat(boxes), torch.cat(keypoints), torch.cat(scores)
        if scores.numel():
            boxes, keypoints, scores = weighted_nms(boxes, keypoints, scores, self.cfg.nms_iou)
        faces = [
            DetectedFace(tuple(float(v) for v in b), float(s), k.float().cpu())
            for b, k, s in zip(boxes.double().cpu(), keypoints, scores)
        ]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def scales(self, height: int, width: int, min_face: float | None = None) -> list[float]:
        """Pyramid scales (network pixels per image pixel) for an ``height x width`` photo, coarsest first.

        Without ``min_face`` the smallest face is 24 px, raised until the levels fit the pixel budget.
        """
        cfg = self.cfg
        budget = max(cfg.pixel_budget, cfg.pixel_budget_fraction * height * width)
        face = MIN_FACE if min_face is None else float(min_face)
        if face <= 0:
            raise ValueError(f"min_face must be a positive number of pixels, got {min_face}")
        while True:
            scales = plan_scales(height, width, cfg.input_size, face, cfg.face_px, cfg.level_ratio)
            pixels = cfg.input_size**2 + sum(height * width * s * s for s in scales[1:])
            if min_face is not None or pixels <= budget:
                return scales
            face *= 1.05  # over budget: look for somewhat larger faces only

    def _prepare(self, image) -> torch.Tensor:
        if isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[0] == 3 and image.is_floating_point():
            pixels = image.detach()
        else:
            pixels = to_tensor(image)
        return pixels.to(self.device, self.dtype)

    def _detect_level(
        self, net_input: torch.Tensor, level: Level, min_score: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the network on one pyramid level: detections above ``min_score``, in image pixels."""
        cfg = self.cfg
        regressors, logits = self.net(net_input.contiguous(memory_format=torch.channels_last))
        anchors = _anchors(*net_input.shape[-2:], cfg.strides, cfg.interpolated_scale_aspect_ratio, cfg.anchor_offset)
        boxes, keypoints, scores = decode(regressors[0].float(), logits[0].float(), anchors, cfg.score_clipping_thresh)
        keep = scores >= min_score
        boxes = level.to_image(boxes[keep].view(-1, 2, 2)).view(-1, 4)
        return boxes, level.to_image(keypoints[keep]), scores[keep]


@functools.lru_cache(maxsize=32)
def _anchors(height: int, width: int, strides: tuple[int, ...], interpolated: float, offset: float) -> torch.Tensor:
    return ssd_anchors(height, width, strides, interpolated, offset)


@functools.lru_cache(maxsize=8)
def _load(folder: Path, device: torch.device, dtype: torch.dtype) -> FaceDetector:
    if not (folder / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(f"no face detector weights at {folder / WEIGHTS_NAME}; is the fpliif install complete?")
    cfg = DetectorConfig.load(folder)
    net = load_state_dict(BlazeFace(cfg.variant), folder / WEIGHTS_NAME)
    return FaceDetector(net.to(device, dtype), cfg)
