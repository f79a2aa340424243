"""Face detection: find each face in a photo, with six keypoints, so it can be aligned for parsing."""

from .config import KEYPOINT_NAMES, DetectorConfig
from .detector import DetectedFace, FaceDetector, default_detector_dir
from .template import TEMPLATE_BOX, TEMPLATE_MEAN, TEMPLATE_STD

__all__ = [
    "FaceDetector", "DetectedFace", "DetectorConfig", "KEYPOINT_NAMES", "default_detector_dir",
    "TEMPLATE_MEAN", "TEMPLATE_STD", "TEMPLATE_BOX",
]
