"""Whole photos: parse the scenes of ``scripts/make_scenes.py`` and score inside the faces, next to the same faces
parsed as aligned crops at the same size; detection recall and false positives; end-to-end time per photo.

    python scripts/make_scenes.py --out runs/scenes                 # CelebAMask-HQ val faces in real backgrounds
    python scripts/benchmark_scenes.py --scenes runs/scenes --out docs/whole-photos.md

Scoring, per scene: the pixels where a val face was pasted fully opaque (``*_labels.png`` != 255), counts
accumulated over all scenes (18 classes, background ignored: the ``fpliif eval`` metric). The aligned reference
parses each scene face's own 512 px crop resized to the size it has in its scene, with ``faces="none"`` (the crop
already has the training framing), scored on the same elliptical head region at that size. A scene face counts as
found when a detected face's keypoint-based crop centre lies in its labelled face box.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from a checkout

from fpliif import FaceParser  # noqa: E402
from fpliif.labels import CELEBAMASK_HQ  # noqa: E402
from fpliif.metrics import ConfusionMatrix, scores_table  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "celebamask-mini"
ELLIPSE = (256.0, 250.0, 236.0, 250.0)  # make_scenes.py's head ellipse in the 512 crop (cx, cy, ax, ay)
FEATHER = 0.14


def head_region(side: int) -> np.ndarray:
    """``side x side`` bool: the fully opaque head ellipse of make_scenes.py at that crop size."""
    cx, cy, ax, ay = (v * side / 512 for v in ELLIPSE)
    yy, xx = np.mgrid[:side, :side] + 0.5
    return np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2) <= 1 - FEATHER


def aligned_reference(parser: FaceParser, face: dict, data: Path, cm: ConfusionMatrix) -> None:
    side = max(2, round(face["crop_side"]))
    image = Image.open(data / "images" / f"{face['id']}.jpg").convert("RGB").resize((side, side), Image.BICUBIC)
    mask = np.asarray(Image.open(data / "masks" / f"{face['id']}.png").resize((side, side), Image.NEAREST))
    target = np.where(head_region(side), mask, 255)
    labels = parser(image, faces="none").label_map()
    cm.update(torch.from_numpy(labels), torch.from_numpy(target))


def found(result, face: dict) -> bool:
    box = face["face_box"]
    if box is None:
        return False
    for f in result.faces:
        x, y = f.alignment.to_photo(np.array([[0.5, 0.6]]))[0]  # the face's middle in the crop
        if box[0] <= x <= box[2] and box[1] <= y <= box[3]:
            return True
    return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=Path, default=ROOT / "runs" / "scenes")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--model", default=None, help="pretrained name, folder or repo (default: the shipped weights)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="only the first N scenes")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    parser = FaceParser.from_pretrained(a.model, device="cpu")
    index = json.loads((a.scenes / "scenes.json").read_text())["scenes"]
    if a.limit:
        index = index[: a.limit]
    parser(np.zeros((64, 64, 3), dtype=np.uint8))  # load the detector, warm up
    scene_cm, aligned_cm = ConfusionMatrix(19), ConfusionMatrix(19)
    kinds: dict[str, dict] = {}
    timings: dict[tuple[str, int], list[float]] = {}
    for item in index:
        record = json.loads((a.scenes / f"{item['name']}.json").read_text())
        target = np.asarray(Image.open(a.scenes / f"{item['name']}_labels.png"))
        tic = time.perf_counter()
        result = parser(a.scenes / f"{item['name']}.jpg")
        labels = result.label_map()
        seconds = time.perf_counter() - tic
        scene_cm.update(torch.from_numpy(labels), torch.from_numpy(target))
        k = kinds.setdefault(record["kind"], {"faces": 0, "found": 0, "detections": 0, "false": 0, "scenes": 0})
        hits = [found(result, f) for f in record["faces"]]
        k["scenes"] += 1
        k["faces"] += len(hits)
        k["found"] += sum(hits)
        k["detections"] += len(result.faces)
        k["false"] += max(0, len(result.faces) - sum(hits))
        timings.setdefault((f"{record['height']}x{record['width']}", len(record["faces"])), []).append(seconds)
        for face in record["faces"]:
            aligned_reference(parser, face, a.data, aligned_cm)
        print(f"{item['name']}: {len(result.faces)} found / {len(hits)} pasted, {seconds:.2f} s, {result.how}",
              flush=True)
    names = list(CELEBAMASK_HQ.names)
    scores = {"scenes": scene_cm.scores(names), "aligned crops": aligned_cm.scores(names)}
    lines = ["# Whole photos: parsing inside the faces of real scenes", "",
             f"{len(index)} scenes from `scripts/make_scenes.py` (CelebAMask-HQ val faces, shrunk, rotated up to 30 "
             "degrees, pasted into background photos); weights: "
             f"`{a.model or 'default'}`; CPU, {a.threads} threads. Produced by `scripts/benchmark_scenes.py`.", "",
             f"**Mean F1 inside the faces: {100 * scores['scenes'].mean_f1:.1f} in the scenes, "
             f"{100 * scores['aligned crops'].mean_f1:.1f} for the same faces as aligned crops at the same size** "
             f"(difference {100 * (scores['scenes'].mean_f1 - scores['aligned crops'].mean_f1):+.1f} points).", "",
             "## Detection", "", "| scenes | count | faces | found | recall | detections | false positives |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for kind, k in kinds.items():
        lines.append(f"| {kind} | {k['scenes']} | {k['faces']} | {k['found']} | {k['found'] / max(1, k['faces']):.3f} "
                     f"| {k['detections']} | {k['false']} |")
    lines += ["", "## Time per photo, end to end (decode, detect, align, encode, label map at the photo's size)", "",
              "| photo | faces | photos | median s | max s |", "|---|---:|---:|---:|---:|"]
    for (size, n), values in sorted(timings.items()):
        lines.append(f"| {size} | {n} | {len(values)} | {statistics.median(values):.2f} | {max(values):.2f} |")
    lines += ["", "## Per class (F1 and IoU, %)", "", scores_table(scores, markdown=True), ""]
    report = "\n".join(lines)
    print(report)
    if a.out:
        a.out.write_text(report)


if __name__ == "__main__":
    main()
