"""Face detection: find each face in a photo, with six keypoints, so it can be aligned for parsing."""

from .config import KEYPOINT_NAMES, DetectorConfig
from .detector import DetectedFace, FaceDetector, default_detector_dir

__all__ = ["FaceDetector", "DetectedFace", "DetectorConfig", "KEYPOINT_NAMES", "default_detector_dir"]
