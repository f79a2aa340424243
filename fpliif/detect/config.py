"""The detector's config: which BlazeFace network, how MediaPipe decodes it, and how a photo is scanned (the pyramid).

Saved as ``config.json`` next to ``model.safetensors`` in ``fpliif/weights/blazeface/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = ["DetectorConfig", "KEYPOINT_NAMES", "CONFIG_NAME"]

CONFIG_NAME = "config.json"
# The six BlazeFace keypoints in the model's order. "right"/"left" are the person's; in an upright, unmirrored
# photo the person's right eye is on the viewer's left (smaller x). Checked on examples/astronaut.png.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


@dataclass
class DetectorConfig:
    """How to run and decode one BlazeFace network (defaults: MediaPipe's full-range graph).

    The anchor and decoding fields copy MediaPipe's ``face_detection_full_range_common.pbtxt``
    (``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator``, ``NonMaxSuppressionCalculator``).
    """

    variant: str = "full"
    input_size: int = 192
    strides: tuple[int, ...] = (4,)
    # MediaPipe adds one anchor per cell at an interpolated scale when this is 1.0 (short range); 0.0 adds none.
    interpolated_scale_aspect_ratio: float = 0.0
    anchor_offset: float = 0.5
    score_clipping_thresh: float = 100.0
    min_score: float = 0.6  # MediaPipe's min_score_thresh for this graph; callers may pass another
    nms_iou: float = 0.3  # weighted NMS merges detections whose IoU exceeds this
    keypoint_names: tuple[str, ...] = KEYPOINT_NAMES
    # The pyramid (pyramid.py): the whole photo letterboxed into input_size, then the whole photo at finer scales
    # down to one where the smallest face wanted is face_px network pixels: the smallest face this network
    # finds reliably (measured: recall >= 0.93 at 28 px, upright or turned 30 degrees). Scales step by at most
    # level_ratio; the network finds faces from face_px to about 150 px, so up to 5 leaves no gap (2, 3 and 4
    # gave the same recall on the scenes; 4 needs the fewest levels).
    face_px: float = 28.0
    level_ratio: float = 4.0
    # Unless the caller sets min_face, the finest level is coarsened until all levels together hold at most
    # max(pixel_budget, pixel_budget_fraction x the photo's pixels) network pixels: about 11 windows of 192 x 192
    # up to 1536 x 1024 (24 px faces on 640 x 480, ~67 px on 1536 x 1024), 10% of a larger photo (~90 px on 4K).
    pixel_budget: int = 400_000
    pixel_budget_fraction: float = 0.1
    source: dict = field(default_factory=dict)  # where the weights came from, their licence and the converter

    def __post_init__(self):
        if self.variant not in ("full", "short"):
            raise ValueError(f"variant must be 'full' or 'short', got {self.variant!r}")
        if self.input_size <= 0 or any(self.input_size % s for s in self.strides):
            raise ValueError(f"input_size {self.input_size} must be positive and divisible by strides {self.strides}")
        if not 0 < self.min_score < 1 or not 0 < self.nms_iou < 1:
            raise ValueError(f"min_score {self.min_score} and nms_iou {self.nms_iou} must lie in (0, 1)")
        if not 0 <= self.pixel_budget_fraction <= 1:
            raise ValueError(f"pixel_budget_fraction must lie in [0, 1], got {self.pixel_budget_fraction}")
        if self.face_px <= 0 or self.level_ratio <= 1 or self.pixel_budget < self.input_size**2:
            raise ValueError(
                f"the pyramid needs face_px > 0 (got {self.face_px}), level_ratio > 1 (got {self.level_ratio}) and "
                f"pixel_budget >= input_size**2 = {self.input_size**2} (got {self.pixel_budget})"
            )
        self.strides = tuple(self.strides)
        self.keypoint_names = tuple(self.keypoint_names)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> DetectorConfig:
        path = Path(directory) / CONFIG_NAME
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path} has unknown keys {unknown}; is it a face detector config?")
        return cls(**data)
