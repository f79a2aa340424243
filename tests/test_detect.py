"""Face detector: the BlazeFace port against TFLite, MediaPipe's decoding, and detection on real photos."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from fpliif import DetectedFace, FaceDetector
from fpliif.detect import KEYPOINT_NAMES, DetectorConfig, default_detector_dir
from fpliif.detect.anchors import decode, ssd_anchors, weighted_nms
from fpliif.detect.blazeface import BlazeFace
from fpliif.detect.pyramid import plan_scales, pyramid_inputs
from fpliif.detect.template import TEMPLATE_MEAN, TEMPLATE_STD

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "examples" / "astronaut.png"
REFERENCE = Path(__file__).parent / "data" / "blazeface_reference.npz"
DATA = ROOT.parent / "shared" / "data" / "celebamask-mini"
DEVICE = torch.device("cpu")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.from_pretrained(device=DEVICE)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB")


def test_anchor_counts_match_mediapipe():
    assert ssd_anchors(192, 192, (4,)).shape == (2304, 2)  # full range: 48 x 48, one anchor per cell
    assert ssd_anchors(128, 128, (8, 16, 16, 16), 1.0).shape == (896, 2)  # short range: 16x16x2 + 8x8x6
    first = ssd_anchors(192, 192, (4,))[:2]
    assert torch.allclose(first, torch.tensor([[2.0, 2.0], [6.0, 2.0]]))  # (x + 0.5) * stride, row by row


@pytest.mark.parametrize("variant,size,anchors", [("full", 192, 2304), ("short", 128, 896)])
def test_network_output_shapes(variant, size, anchors):
    regressors, logits = BlazeFace(variant).eval()(torch.zeros(2, 3, size, size))
    assert regressors.shape == (2, anchors, 16) and logits.shape == (2, anchors)


def test_port_matches_tflite_outputs(detector, astronaut):
    """Raw outputs on the astronaut equal those the TFLite runtime gave (stored by convert_blazeface.py)."""
    ref = np.load(REFERENCE)
    x = torch.from_numpy(np.array(astronaut)).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(192, 192), mode="bilinear", antialias=True, align_corners=False) * 2 - 1
    with torch.no_grad():
        regressors, logits = detector.net(x.contiguous(memory_format=torch.channels_last))
    assert np.abs(logits[0].numpy() - ref["logits"]).max() < 1e-3
    assert np.abs(regressors[0, ref["top_anchors"]].numpy() - ref["top_regressors"]).max() < 1e-2


def test_decode_and_weighted_nms_blend_overlapping_detections():
    anchors = torch.tensor([[10.0, 10.0], [12.0, 10.0], [100.0, 100.0]])
    regressors = torch.zeros(3, 16)
    regressors[:, 2:4] = 20.0  # 20 x 20 boxes centred on the anchors
    logits = torch.tensor([2.0, 0.0, 1000.0])  # the last is clipped to 100 before the sigmoid
    boxes, keypoints, scores = decode(regressors, logits, anchors)
    assert torch.allclose(boxes[0], torch.tensor([0.0, 0.0, 20.0, 20.0]))
    assert keypoints.shape == (3, 6, 2) and scores[2] == 1.0
    boxes, keypoints, scores = weighted_nms(boxes, keypoints, scores, 0.3)
    assert len(scores) == 2 and scores[0] == 1.0  # best first; the two near boxes merge into one
    s0, s1 = torch.sigmoid(torch.tensor(2.0)), torch.tensor(0.5)
    assert boxes[1, 0].item() == pytest.approx(float((0 * s0 + 2 * s1) / (s0 + s1)), abs=1e-5)


def test_finds_astronaut_with_landmarks_in_place(detector, astronaut):
    faces = detector(astronaut)
    assert len(faces) == 1 and isinstance(faces[0], DetectedFace)
    face = faces[0]
    assert face.score > 0.8
    assert face.box == pytest.approx((60.7, 56.1, 170.8, 166.3), abs=4)
    points = dict(zip(KEYPOINT_NAMES, face.landmarks.tolist()))
    assert points["right_eye"] == pytest.approx([94, 92], abs=4)  # the person's right eye: viewer's left
    assert points["left_eye"] == pytest.approx([138, 94], abs=4)
    assert points["right_eye"][1] < points["nose_tip"][1] < points["mouth_center"][1]
    xs = [points[name][0] for name in ("right_ear_tragion", "right_eye", "left_eye", "left_ear_tragion")]
    assert xs == sorted(xs)


def test_accepts_tensor_numpy_and_path(detector, astronaut):
    tensor = torch.from_numpy(np.array(astronaut)).permute(2, 0, 1).float() / 255
    for image in (tensor, np.array(astronaut), ASTRONAUT):
        assert len(detector(image)) == 1


def _eye_angle(face: DetectedFace) -> float:
    (rx, ry), (lx, ly) = face.landmarks[:2].tolist()
    return math.degrees(math.atan2(-(ly - ry), lx - rx))  # counter-clockwise positive, as seen


def test_finds_rotated_face(detector, astronaut):
    rotated = astronaut.rotate(25, resample=Image.BICUBIC, expand=True, fillcolor=(90, 110, 90))
    faces = detector(rotated)
    assert len(faces) == 1
    assert _eye_angle(faces[0]) == pytest.approx(25 + _eye_angle(detector(astronaut)[0]), abs=6)


def test_finds_small_face_in_large_photo(detector, astronaut):
    canvas = Image.new("RGB", (1280, 800), (70, 90, 120))
    canvas.paste(astronaut.resize((96, 96), Image.BICUBIC), (1100, 620))  # a ~45 px face near a corner
    faces = detector(canvas, min_face=40)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 1100 < x0 < x1 < 1196 and 620 < y0 < y1 < 716
    assert faces[0].landmarks[0, 0] < faces[0].landmarks[1, 0]


def test_no_faces_in_blank_or_noise(detector):
    assert detector(torch.full((3, 480, 640), 0.5)) == []
    noise = torch.rand(3, 480, 640, generator=torch.Generator().manual_seed(0))
    assert detector(noise) == []


def test_pyramid_scales_and_budget(detector):
    assert plan_scales(480, 640, 192, 24.0, 28.0, 3.0)[0] == pytest.approx(192 / 640)
    assert plan_scales(480, 640, 192, 24.0, 28.0, 3.0)[-1] == 1.0  # never upsampled
    scales = detector.scales(2160, 3840)
    ratios = [b / a for a, b in zip(scales, scales[1:])]
    assert all(r <= detector.cfg.level_ratio + 1e-6 for r in ratios)
    pixels = 192**2 + sum(2160 * 3840 * s * s for s in scales[1:])
    assert pixels <= max(detector.cfg.pixel_budget, detector.cfg.pixel_budget_fraction * 2160 * 3840)
    assert detector.scales(2160, 3840, min_face=48)[-1] == pytest.approx(28 / 48)
    levels = pyramid_inputs(torch.rand(3, 100, 50), [1.0, 1.0], 192)
    assert levels[0][0].shape == (1, 3, 192, 192) and (levels[0][1].offset_x, levels[0][1].offset_y) == (71.0, 46.0)
    assert levels[1][0].shape == (1, 3, 128, 64) and levels[1][1].offset_x == 0.0  # padded to multiples of 32


def test_config_validation_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="variant"):
        DetectorConfig(variant="huge")
    with pytest.raises(ValueError, match="level_ratio"):
        DetectorConfig(level_ratio=1.0)
    with pytest.raises(ValueError, match="min_score"):
        DetectorConfig(min_score=1.5)
    cfg = DetectorConfig(face_px=30.0)
    cfg.save(tmp_path)
    assert DetectorConfig.load(tmp_path) == cfg
    (tmp_path / "config.json").write_text(json.dumps({"variant": "full", "colour": 1}))
    with pytest.raises(ValueError, match="unknown keys"):
        DetectorConfig.load(tmp_path)


def test_shipped_weights_record_their_source():
    folder = default_detector_dir()
    cfg = DetectorConfig.load(folder)
    assert cfg.variant == "full" and "Apache-2.0" in cfg.source["model_licence"]
    assert (folder / "LICENSE-Apache-2.0.txt").is_file() and (folder / "README.md").is_file()


def test_float64_detector_agrees(astronaut):
    faces = FaceDetector.from_pretrained(dtype=torch.float64)(astronaut)
    assert len(faces) == 1 and faces[0].box == pytest.approx((60.7, 56.1, 170.8, 166.3), abs=4)


def test_template_is_a_plausible_aligned_face():
    mean = np.asarray(TEMPLATE_MEAN)
    assert mean.shape == (6, 2) and np.asarray(TEMPLATE_STD).shape == (6, 2)
    assert mean[0, 0] < 0.5 < mean[1, 0]  # right eye left of centre, left eye right of it
    assert mean[0, 1] < mean[2, 1] < mean[3, 1]  # eyes above nose above mouth


@pytest.mark.skipif(not (DATA / "splits.json").is_file(), reason="needs ../shared/data/celebamask-mini")
def test_finds_rotated_val_faces_pasted_into_a_scene(detector):
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_scenes

    ids = sorted(json.loads((DATA / "splits.json").read_text())["val"])[:2]
    canvas = make_scenes.procedural_background((768, 1024), np.random.default_rng(0))
    labels = np.full((768, 1024), 255, np.uint8)
    records = [make_scenes.paste_face(canvas, labels, make_scenes.load_face(DATA, ids[0]), 0.6, 20, (300, 380)),
               make_scenes.paste_face(canvas, labels, make_scenes.load_face(DATA, ids[1]), 0.4, -25, (780, 300))]
    faces = detector(np.clip(canvas + 0.5, 0, 255).astype(np.uint8))
    assert len(faces) == 2
    for face, record in zip(faces, records):  # largest first: the 0.6-scale face
        right = torch.tensor(record["eyes"]["right_eye"])
        assert torch.dist(face.landmarks[0], right) < 0.3 * record["crop_side"] / 2
    assert set(np.unique(labels)) <= set(range(19)) | {255}
