"""Generators of tiny dataset folders in every supported layout, for the data, eval and pseudo-label tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from fpliif.labels import CELEBAMASK_HQ, LAPA

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"  # ../shared/data from the repository root


def face_and_mask(side: int = 32, seed: int = 0, num_classes: int = 19) -> tuple[Image.Image, np.ndarray]:
    """A random RGB image and a mask with horizontal bands of classes 0, 1, 13 (hair) and 4/5 (eyes)."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    mask = np.zeros((side, side), dtype=np.uint8)
    mask[: side // 4] = 13 % num_classes
    mask[side // 4: side // 2] = 1
    mask[side // 2: 3 * side // 4, : side // 2] = 4 % num_classes
    mask[side // 2: 3 * side // 4, side // 2:] = 5 % num_classes
    return image, mask


def make_folder(root: Path, ids=("a", "b", "c", "d"), splits: dict | None = None, labels: list[str] | None = None,
                side: int = 32, mask_side: int | None = None) -> Path:
    """``images/<id>.jpg``, ``masks/<id>.png``, optional ``splits.json`` and ``labels.txt``."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for n, i in enumerate(ids):
        image, mask = face_and_mask(side, n, len(labels) if labels else 19)
        image.save(root / "images" / f"{i}.jpg", quality=95)
        if mask_side and mask_side != side:
            mask = np.asarray(Image.fromarray(mask).resize((mask_side, mask_side), Image.NEAREST))
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
    if splits is not None:
        (root / "splits.json").write_text(json.dumps(splits))
    if labels is not None:
        (root / "labels.txt").write_text("\n".join(labels) + "\n")
    return root


def make_hair(root: Path, ids=("h1", "h2"), side: int = 32) -> Path:
    """``images/<id>.jpg`` and ``hair/<id>.png`` with the top quarter 255 (hair)."""
    (root / "images").mkdir(parents=True)
    (root / "hair").mkdir()
    for n, i in enumerate(ids):
        image, _ = face_and_mask(side, n)
        image.save(root / "images" / f"{i}.jpg", quality=95)
        hair = np.zeros((side, side), dtype=np.uint8)
        hair[: side // 4] = 255
        Image.fromarray(hair).save(root / "hair" / f"{i}.png")
    return root


def make_lapa(root: Path, side: int = 32) -> Path:
    """``train/`` with two samples and ``val/`` with one; masks use LaPa ids (2 = l_brow, 10 = hair)."""
    for split, ids in (("train", ("t1", "t2")), ("val", ("v1",))):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir()
        for n, i in enumerate(ids):
            image, _ = face_and_mask(side, n)
            image.save(root / split / "images" / f"{i}.jpg", quality=95)
            mask = np.zeros((side, side), dtype=np.uint8)
            mask[: side // 4] = LAPA.index("hair")
            mask[side // 4: side // 2] = LAPA.index("l_brow")
            Image.fromarray(mask).save(root / split / "labels" / f"{i}.png")
    return root


def make_celebamask_hq(root: Path, count: int = 3, side: int = 32, partition: bool = True) -> Path:
    """The official layout: images at 2x the part-mask size, skin and an overlapping hair part per image.

    HQ ids 0, 1, 2 map to CelebA files 000001.jpg (train), 170000.jpg (val) and 190000.jpg (test).
    """
    (root / "CelebA-HQ-img").mkdir(parents=True)
    anno = root / "CelebAMask-HQ-mask-anno" / "0"
    anno.mkdir(parents=True)
    originals = ["000001.jpg", "170000.jpg", "190000.jpg"][:count]
    for i in range(count):
        image, _ = face_and_mask(2 * side, i)
        image.save(root / "CelebA-HQ-img" / f"{i}.jpg", quality=95)
        skin = np.zeros((side, side), dtype=np.uint8)
        skin[side // 4:] = 255
        hair = np.zeros((side, side), dtype=np.uint8)
        hair[: side // 2] = 255  # overlaps the skin: hair comes later in the official order and wins
        Image.fromarray(skin).save(anno / f"{i:05d}_skin.png")
        Image.fromarray(hair).save(anno / f"{i:05d}_hair.png")
    lines = ["idx         orig_idx    orig_file"]
    lines += [f"{i}          {int(name[:6]) - 1}     {name}" for i, name in enumerate(originals)]
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text("\n".join(lines) + "\n")
    if partition:
        codes = {"000001.jpg": 0, "170000.jpg": 1, "190000.jpg": 2}
        (root / "list_eval_partition.txt").write_text("".join(f"{k} {v}\n" for k, v in codes.items()))
    return root


__all__ = ["REPO", "SHARED_DATA", "CELEBAMASK_HQ", "face_and_mask", "make_folder", "make_hair", "make_lapa",
           "make_celebamask_hq"]
