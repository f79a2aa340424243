"""Where BlazeFace's keypoints sit in the framing the parser was trained on (aligned CelebA-HQ crops).

Measured by ``python scripts/benchmark_detect.py --template ../shared/data/celebamask-mini``: the shipped
detector (min_score 0.6, default pyramid) on the 800 celebamask-mini *train* images (512 x 512 aligned
CelebA-HQ faces), the largest face of each, keypoints divided by 512. Found in 741 of 800 images (92.6%, median
score 0.75; measured with level_ratio 3 and again with the shipped 4: the same to 4 decimals); the misses are
faces filling most of the frame, which BlazeFace scores lower.

Order as :data:`fpliif.detect.KEYPOINT_NAMES`: right eye, left eye, nose tip, mouth centre, right ear tragion,
left ear tragion (the person's right/left; the right eye is on the viewer's left). Coordinates ``(x, y)`` in
[0, 1] of the aligned square. The eyes vary least (std < 0.01): align on them, or on all six with weights.
"""

from __future__ import annotations

__all__ = ["TEMPLATE_MEAN", "TEMPLATE_STD", "TEMPLATE_BOX", "TEMPLATE_DETECTION_RATE"]

TEMPLATE_MEAN = (
    (0.3791, 0.4774), (0.6253, 0.4814), (0.5006, 0.6415), (0.4990, 0.7582), (0.2602, 0.5286), (0.7500, 0.5313),
)
TEMPLATE_STD = (
    (0.0084, 0.0087), (0.0100, 0.0080), (0.0235, 0.0274), (0.0153, 0.0198), (0.0379, 0.0272), (0.0352, 0.0267),
)
# Mean detected box (x0, y0, x1, y1) in the same units; std (0.021, 0.025, 0.022, 0.029).
TEMPLATE_BOX = (0.1792, 0.2638, 0.8213, 0.9058)
TEMPLATE_DETECTION_RATE = 741 / 800
