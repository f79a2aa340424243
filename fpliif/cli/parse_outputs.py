"""What ``fpliif parse`` writes for one parsed image: file names and pictures, masks and the faces' JSON.

Names (relative to ``--out``; ``NAME`` is the input's stem): ``NAME_index.png``, ``NAME_color.png``,
``NAME_overlay.png``, ``NAME_outline.png``, ``NAME_mask_SELECTION.png`` (``--labels`` as given, e.g.
``NAME_mask_face+ears.png``, so another selection never replaces it), ``NAME_mask_LABEL.png`` (one per class),
``NAME_faces.json`` and, with ``--per-face``, ``NAME_faceK_mask_...png`` for face ``K`` (largest first).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..image import to_pil
from .files import InputFile
from .outputs import OutputFolder

__all__ = ["OutputJobs", "SAVE_KINDS", "selection_slug", "faces_record"]

SAVE_KINDS = {
    "index": "single-channel PNG, pixel value = class id (see `fpliif labels`)",
    "color": "the label map in each class's colour",
    "overlay": "the colour map blended over the image",
    "outline": "the image with each class's border drawn in its colour (for checking edges)",
    "mask": "one mask of all --labels together (white = selected), named after the selection",
    "masks": "one mask per class of --labels (every class when --labels is not given)",
    "faces": "NAME_faces.json: each face's box, crop box, score, landmarks and alignment",
}
MASK_KINDS = ("mask", "masks")
MAX_SLUG = 60  # longer selections are named by a short hash (file names stay well under any limit)


def selection_slug(selection: str) -> str:
    """The ``--labels`` text as a file-name part: ``"face, Left Eye"`` -> ``"face+left_eye"``."""
    parts = [re.sub(r"[^a-z0-9_.-]+", "_", p.strip().lower()).strip("_") for p in selection.split(",")]
    slug = "+".join(p for p in parts if p)
    if len(slug) > MAX_SLUG:
        digest = hashlib.sha1(slug.encode()).hexdigest()[:8]
        slug = f"{len(parts)}-labels-{digest}"
    return slug


class OutputJobs:
    """Turns one :class:`~fpliif.result.ParseResult` into the files the user asked for.

    Args:
        folder: the output folder (checks and atomic, recorded writes).
        kinds: ``--save`` kinds (keys of :data:`SAVE_KINDS`).
        selected: class ids of ``--labels`` (all classes without it).
        selection: the ``--labels`` text (``None`` without it).
        soft: masks hold probabilities.
        names: the model's class names.
        per_face: also one set of masks per face.
    """

    def __init__(self, folder: OutputFolder, kinds: list[str], selected: list[int], selection: str | None,
                 soft: bool, names: tuple[str, ...], per_face: bool = False):
        self.folder, self.kinds, self.selected, self.soft, self.names = folder, kinds, selected, soft, names
        self.slug = selection_slug(selection) if selection else None
        self.per_face = per_face

    def mask_suffix(self) -> str:
        """``mask_SELECTION``: the name part of the combined mask (images and ``--video-out mask``)."""
        return f"mask_{self.slug}"

    def paths(self, item: InputFile, faces: int = 0) -> dict[str, Path]:
        """Output key -> file path; ``faces``: how many faces get their own masks (with ``per_face``)."""
        base = self.folder.root / item.stem
        keys: list[str] = []
        for kind in self.kinds:
            keys += self._mask_keys(kind, "") if kind in MASK_KINDS else [kind]
        if self.per_face:
            for k in range(faces):
                for kind in self.kinds:
                    keys += self._mask_keys(kind, f"face{k}_") if kind in MASK_KINDS else []
        ext = {"faces": ".json"}
        return {key: base.with_name(f"{base.name}_{key}{ext.get(key, '.png')}") for key in dict.fromkeys(keys)}

    def _mask_keys(self, kind: str, prefix: str) -> list[str]:
        if kind == "mask":
            return [f"{prefix}{self.mask_suffix()}"]
        return [f"{prefix}mask_{self.names[i]}" for i in self.selected]

    def write(self, item: InputFile, result, image_path: Path | None = None) -> None:
        """Write every output of ``item`` (all or none of them; see :meth:`OutputFolder.write_all`)."""
        paths = self.paths(item, len(result.faces) if self.per_face else 0)
        self.folder.write_all({path: self._writer(key, result, image_path or item.path)
                               for key, path in paths.items()})

    def _writer(self, key: str, result, image_path: Path) -> Callable[[Path], None]:
        if key == "faces":
            text = faces_json(faces_record(result, image_path))
            return lambda tmp: tmp.write_text(text, encoding="utf-8")
        return lambda tmp: self.render(key, result).save(tmp, format="PNG")

    def render(self, key: str, result) -> Image.Image:
        """The picture of one output key (also the ``--video-out`` kinds ``overlay``, ``color`` and ``mask``)."""
        if key == "index":
            return Image.fromarray(result.label_map(), mode="L")
        if key == "color":
            return result.color_map()
        if key == "overlay":
            return result.overlay()
        if key == "outline":
            return result.outline()
        face = None
        match = re.match(r"face(\d+)_", key)
        if match:
            face, key = int(match.group(1)), key[match.end():]
        if key in ("mask", self.mask_suffix()):
            ids = self.selected
        else:
            ids = [self.names.index(key.removeprefix("mask_"))]
        return self.mask(result, ids, face)

    def mask(self, result, ids: list[int], face: int | None = None) -> Image.Image:
        """The mask of classes ``ids`` (of one face), as an 8-bit picture; hard masks never leave uint8."""
        if self.soft:
            return to_pil(result.mask(ids, soft=True, face=face))
        lookup = np.zeros(256, dtype=np.uint8)
        lookup[ids] = 255
        mask = lookup[result.label_map()]
        if face is not None:
            mask[result.owner.numpy() != result.faces[face].region] = 0
        return Image.fromarray(mask, mode="L")


def faces_json(record: dict) -> str:
    """``record`` as JSON with one line per key and per face (readable, and easy to diff)."""
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in record.items() if k != "faces"]
    faces = [f"  {json.dumps(face)}" for face in record["faces"]]
    return "{\n" + "\n".join(lines) + '\n "faces": [' + ("\n" + ",\n".join(faces) + "\n ]" if faces else "]") + "\n}\n"


def faces_record(result, image_path: Path) -> dict:
    """What ``NAME_faces.json`` holds: how the image was parsed and each face, in the input image's pixels."""
    h, w = result.image.shape[-2:]
    faces = []
    for k, face in enumerate(result.faces):
        faces.append({
            "face": k,
            "box": [round(v, 2) for v in face.box],
            "crop_box": [round(v, 2) for v in face.crop_box],
            "score": round(float(face.score), 4),
            "landmarks": np.round(np.asarray(face.landmarks, dtype=np.float64), 2).tolist(),
            "angle": round(face.alignment.angle, 2),
            "scale": round(face.alignment.scale, 2),
        })
    from ..detect import KEYPOINT_NAMES

    return {
        "image": str(image_path), "image_size": [int(h), int(w)], "output_size": list(result.size),
        "how": result.how, "coordinates": "input image pixels (x, y)", "landmark_names": list(KEYPOINT_NAMES),
        "faces": faces,
    }
