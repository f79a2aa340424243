"""Build whole-photo test scenes from CelebAMask-HQ val faces, to measure face detection and in-face parsing.

Each scene pastes 1-6 val faces (the aligned 512 x 512 crop, shrunk and rotated up to 30 degrees) onto a real
background without faces (scikit-image's bundled sample photos; procedural ones when it is not installed),
blended with a feathered elliptical alpha so there are no square borders. Per scene it writes:

- ``<name>.jpg``: the image (JPEG quality 95);
- ``<name>_labels.png``: class ids (CelebAMask-HQ order) where a pasted face is fully opaque, 255 ("don't
  score") elsewhere and in the feathered transition;
- ``<name>.json``: size, background, and per face its source id, crop side, scale, rotation, centre,
  the 2 x 3 affine source->scene, the face box (skin, brows, eyes, nose, mouth, lips), the eye centres, etc.

and ``scenes.json`` listing them all. Deterministic for a seed. CelebAMask-HQ is non-commercial research data:
the output goes to a git-ignored folder and must never be committed.

    pip install scikit-image        # optional: real backgrounds (only the images inside the wheel are used)
    python scripts/make_scenes.py                     # -> runs/scenes/ (about 100 scenes, ~1 minute)
    python scripts/make_scenes.py --out runs/scenes --seed 0 --data ../shared/data/celebamask-mini
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "celebamask-mini"
FACE_CLASSES = (1, 2, 4, 5, 6, 7, 10, 11, 12)  # skin, nose, eyes, brows, mouth, lips: the detector's "face"
LEFT_EYE, RIGHT_EYE = 4, 5  # CelebAMask-HQ l_eye / r_eye are the person's left / right
IGNORE = 255
# Bundled in the scikit-image wheel (no download) and free of human faces (astronaut, camera, lfw are not).
SKIMAGE_BACKGROUNDS = (
    "brick.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png", "coins.png", "color.png",
    "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
    "page.png", "retina.jpg", "rocket.jpg", "text.png",
)
# (kind, count, (height, width), faces per scene (lo, hi), crop side in px (lo, hi))
SCENE_KINDS = (
    ("standard", 40, (1024, 1536), (1, 4), (200, 400)),
    ("portrait", 10, (1536, 1024), (1, 3), (200, 400)),
    ("uhd", 10, (2160, 3840), (1, 6), (200, 400)),
    ("small", 10, (1024, 1536), (2, 4), (100, 150)),
    ("tiny", 8, (1024, 1536), (2, 4), (48, 96)),
    ("edge", 10, (1024, 1536), (1, 3), (200, 400)),
    ("large", 6, (1024, 1536), (1, 1), (700, 1100)),
    ("large_uhd", 4, (2160, 3840), (1, 2), (1000, 2000)),
)
ELLIPSE = (256.0, 250.0, 236.0, 250.0)  # centre x, y and semi-axes of the kept head region in the 512 crop
FEATHER = 0.14  # the alpha ramps from 1 to 0 over the outer 14% of the ellipse's radius


@dataclass
class Face:
    """One source face: its 512 x 512 RGB image, class-id mask and id."""

    id: str
    image: np.ndarray
    mask: np.ndarray


def load_face(data: Path, face_id: str) -> Face:
    image = np.asarray(Image.open(data / "images" / f"{face_id}.jpg").convert("RGB"))
    mask = np.asarray(Image.open(data / "masks" / f"{face_id}.png"))
    return Face(face_id, image, mask)


def background_files() -> list[Path]:
    """scikit-image's bundled sample photos, when scikit-image is installed (never downloads)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "data"
    return [folder / name for name in SKIMAGE_BACKGROUNDS if (folder / name).is_file()]


def real_background(path: Path, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random crop of a sample photo with the scene's aspect, scaled to ``size`` (H, W), maybe mirrored."""
    src = Image.open(path).convert("RGB")
    height, width = size
    aspect = width / height
    crop_w = min(src.width, src.height * aspect) * rng.uniform(0.6, 1.0)
    crop_h = crop_w / aspect
    x0, y0 = rng.uniform(0, src.width - crop_w), rng.uniform(0, src.height - crop_h)
    out = src.resize((width, height), Image.BICUBIC, box=(x0, y0, x0 + crop_w, y0 + crop_h))
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(out).astype(np.float32) * rng.uniform(0.8, 1.15)


def procedural_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Smooth colour noise over a gradient, with a few soft rectangles and discs."""
    height, width = size
    coarse = rng.uniform(0, 255, (rng.integers(3, 9), rng.integers(3, 9), 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC)).astype(np.float32)
    img = Image.fromarray(base.astype(np.uint8))
    canvas = np.asarray(img).copy()
    for _ in range(rng.integers(3, 10)):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 20, width // 3), rng.integers(height // 20, height // 3)
        yy, xx = np.ogrid[:height, :width]
        if rng.random() < 0.5:
            shape = (np.abs(xx - x0) < w / 2) & (np.abs(yy - y0) < h / 2)
        else:
            shape = ((xx - x0) / (w / 2)) ** 2 + ((yy - y0) / (h / 2)) ** 2 < 1
        canvas[shape] = rng.integers(0, 256, 3)
    soft = Image.fromarray(canvas).filter(ImageFilter.GaussianBlur(radius=max(1, width // 400)))
    noise = rng.normal(0, 6, (height, width, 1))
    return np.asarray(soft).astype(np.float32) + noise


def head_alpha(height: int, width: int, inverse: np.ndarray) -> np.ndarray:
    """Feathered elliptical alpha of a pasted crop over the scene grid: ``H x W`` in [0, 1]."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    sx = inverse[0, 0] * (xx + 0.5) + inverse[0, 1] * (yy + 0.5) + inverse[0, 2]
    sy = inverse[1, 0] * (xx + 0.5) + inverse[1, 1] * (yy + 0.5) + inverse[1, 2]
    cx, cy, ax, ay = ELLIPSE
    radius = np.sqrt(((sx - cx) / ax) ** 2 + ((sy - cy) / ay) ** 2)
    ramp = np.clip((1 - radius) / FEATHER, 0, 1)
    return ramp * ramp * (3 - 2 * ramp)  # smoothstep


def face_affine(scale: float, angle_deg: float, centre: tuple[float, float]) -> np.ndarray:
    """2 x 3 affine mapping source crop pixels to scene pixels: scale, rotate (counter-clockwise as seen), move."""
    a = math.radians(angle_deg)
    cos, sin = math.cos(a) * scale, math.sin(a) * scale
    rot = np.array([[cos, sin], [-sin, cos]])  # image y points down: this turns the face counter-clockwise
    shift = np.asarray(centre) - rot @ np.array([256.0, 256.0])
    return np.concatenate([rot, shift[:, None]], axis=1)


def paste_face(canvas: np.ndarray, labels: np.ndarray, face: Face, scale: float, angle: float,
               centre: tuple[float, float]) -> dict:
    """Blend ``face`` into ``canvas`` (H x W x 3 float) in place, write its labels; return its record."""
    height, width = labels.shape
    forward = face_affine(scale, angle, centre)
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    # Only the crop's bounding box in the scene needs work.
    corners = forward @ np.array([[0, 512, 0, 512], [0, 0, 512, 512], [1, 1, 1, 1]], dtype=np.float64)
    x0, y0 = np.floor(corners.min(1)).astype(int).clip(0, [width, height])
    x1, y1 = np.ceil(corners.max(1)).astype(int).clip(0, [width, height])
    if x1 <= x0 or y1 <= y0:
        raise ValueError("face lies outside the scene")
    local = inverse @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    coeffs = tuple(local.ravel())
    size = (x1 - x0, y1 - y0)
    rgb = Image.fromarray(face.image).transform(size, Image.AFFINE, coeffs, Image.BICUBIC)
    rgb = np.asarray(rgb).astype(np.float32)
    mask = Image.fromarray(face.mask).transform(size, Image.AFFINE, coeffs, Image.NEAREST, fillcolor=IGNORE)
    mask = np.asarray(mask)
    alpha = head_alpha(size[1], size[0], local)
    region = canvas[y0:y1, x0:x1]
    region[:] = region * (1 - alpha[..., None]) + rgb * alpha[..., None]
    opaque = alpha >= 0.999
    labels[y0:y1, x0:x1][opaque] = mask[opaque]
    return face_record(face, scale, angle, centre, forward, mask, (x0, y0), opaque)


def face_record(face: Face, scale: float, angle: float, centre, forward: np.ndarray, mask: np.ndarray,
                origin: tuple[int, int], opaque: np.ndarray) -> dict:
    ys, xs = np.nonzero(np.isin(face.mask, FACE_CLASSES))
    src_box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    # The face box in the scene: the warped source face pixels (clipped to the scene where a face is cut).
    vis_y, vis_x = np.nonzero(np.isin(mask, FACE_CLASSES))
    box = [int(vis_x.min() + origin[0]), int(vis_y.min() + origin[1]),
           int(vis_x.max() + 1 + origin[0]), int(vis_y.max() + 1 + origin[1])] if len(vis_x) else None
    eyes = {}
    for name, cls in (("right_eye", RIGHT_EYE), ("left_eye", LEFT_EYE)):
        ey, ex = np.nonzero(face.mask == cls)
        if len(ex) >= 20:  # hidden by glasses or closed: no reliable centre
            eyes[name] = (forward @ np.array([ex.mean() + 0.5, ey.mean() + 0.5, 1.0])).round(2).tolist()
    return {
        "id": face.id, "crop_side": round(512 * scale, 1), "scale": round(scale, 4), "rotation_deg": round(angle, 2),
        "centre": [round(float(c), 1) for c in centre], "affine": forward.round(5).tolist(), "face_box": box,
        "face_size": round(float(max(src_box[2] - src_box[0], src_box[3] - src_box[1]) * scale), 1),
        "visible": round(float(len(vis_x)) / max(1.0, len(xs) * scale * scale), 3),
        "eyes": eyes, "labelled_pixels": int(opaque.sum()),
    }


def place_faces(rng: np.random.Generator, kind: str, size: tuple[int, int], count: int,
                crop_range: tuple[int, int]) -> list[tuple[float, float, tuple[float, float]]]:
    """Crop sides, rotations and centres for up to ``count`` faces whose head discs do not overlap."""
    height, width = size
    placed: list[tuple[float, float, tuple[float, float]]] = []
    for _ in range(count * 60):
        if len(placed) == count:
            break
        side = float(rng.uniform(*crop_range))
        side = min(side, 0.98 * min(height, width)) if kind.startswith("large") else side
        angle = float(rng.uniform(-30, 30))
        if kind == "edge":  # the crop centre within a third of a crop of one edge: part of the head is cut
            centre = _edge_centre(rng, height, width, side)
        else:
            margin = side * 0.45
            centre = (float(rng.uniform(margin, width - margin)), float(rng.uniform(margin, height - margin)))
        if all(math.dist(centre, c) >= 0.5 * (side + s) * 0.95 for s, _, c in placed):
            placed.append((side, angle, centre))
    return placed


def _edge_centre(rng: np.random.Generator, height: int, width: int, side: float) -> tuple[float, float]:
    inset = float(rng.uniform(0.15, 0.35)) * side
    along_x, along_y = float(rng.uniform(side / 2, width - side / 2)), float(rng.uniform(side / 2, height - side / 2))
    return [(inset, along_y), (width - inset, along_y), (along_x, inset), (along_x, height - inset)][rng.integers(4)]


def make_scene(rng: np.random.Generator, name: str, kind: str, size: tuple[int, int], faces_range, crop_range,
               pool: list[str], data: Path, backgrounds: list[Path]) -> tuple[np.ndarray, np.ndarray, dict]:
    """One scene: image ``H x W x 3`` uint8, labels ``H x W`` uint8 and its record."""
    use_real = backgrounds and rng.random() < 0.8
    if use_real:
        bg_path = backgrounds[rng.integers(len(backgrounds))]
        canvas, background = real_background(bg_path, size, rng), bg_path.name
    else:
        canvas, background = procedural_background(size, rng), "procedural"
    labels = np.full(size, IGNORE, dtype=np.uint8)
    count = int(rng.integers(faces_range[0], faces_range[1] + 1))
    records = []
    for side, angle, centre in place_faces(rng, kind, size, count, crop_range):
        face = load_face(data, pool.pop())
        records.append(paste_face(canvas, labels, face, side / 512, angle, centre))
    image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    record = {"name": name, "kind": kind, "height": size[0], "width": size[1], "background": background,
              "faces": records}
    return image, labels, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="celebamask-mini folder (images/, masks/, splits.json)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "scenes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="build only the first N scenes of each kind")
    args = parser.parse_args()
    if not (args.data / "splits.json").is_file():
        raise SystemExit(f"no celebamask-mini at {args.data} (expected images/, masks/, splits.json); pass --data")
    val = sorted(json.loads((args.data / "splits.json").read_text())["val"])
    rng = np.random.default_rng(args.seed)
    backgrounds = background_files()
    if not backgrounds:
        print("scikit-image is not installed: procedural backgrounds only (pip install scikit-image for photos)")
    args.out.mkdir(parents=True, exist_ok=True)
    pool: list[str] = []
    index = []
    for kind, count, size, faces_range, crop_range in SCENE_KINDS:
        for i in range(min(count, args.limit or count)):
            if len(pool) < 6:  # every val face once before any face repeats
                pool = [val[j] for j in rng.permutation(len(val))] + pool
            name = f"{kind}_{i:03d}"
            image, labels, record = make_scene(rng, name, kind, size, faces_range, crop_range, pool, args.data,
                                               backgrounds)
            Image.fromarray(image).save(args.out / f"{name}.jpg", quality=95)
            Image.fromarray(labels).save(args.out / f"{name}_labels.png", optimize=True)
            (args.out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
            index.append({"name": name, "kind": kind, "faces": len(record["faces"])})
        print(f"{kind}: {min(count, args.limit or count)} scenes")
    meta = {"seed": args.seed, "source": "CelebAMask-HQ val split (non-commercial research only; never commit)",
            "classes": "CelebAMask-HQ ids 0-18; 255 = don't score", "scenes": index}
    (args.out / "scenes.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(index)} scenes with {sum(s['faces'] for s in index)} faces to {args.out}")


if __name__ == "__main__":
    main()
