"""Resize the CelebAMask-HQ subset, its hair-only faces and its unlabelled faces into a small training pack.

The source (``--src``: ``celebamask-mini/``, ``celeb1k-hair/`` and ``unlabeled-faces/`` at 512 px, about 86 MB)
is copied, resized, into the git-ignored ``pack/`` folder (30.6 MiB at 256 px), which is small enough to copy to
the machine that trains:

    pack/
      celebamask-mini/       800 train + 100 val pairs at SIZE px (images bicubic, masks nearest); the train masks
                             whose left/right classes are on the wrong sides are swapped back (sides_swapped.json),
        images/<id>.jpg      the same "folder" layout as the source: images/, masks/, splits.json, labels.txt
        masks/<id>.png
        splits.json
        labels.txt
      celebamask-mini-512/   the 100 val pairs at their original 512 px (images and masks copied byte for byte),
                             for the paper's "512 output from a 256 input" rows; splits.json holds only "val"
      celeb1k-hair/          742 faces with hair-only masks at SIZE px: images/<id>.jpg, hair/<id>.png (0/255)
      unlabeled-faces/       200 faces without labels at SIZE px: ce7454/*.jpg, ai6126/*.jpg
      PACK.md                what this is, the licence, and the file counts and sizes

Usage::

    python scripts/make_pack.py --src DATA           # DATA -> pack/, 256 px
    python scripts/make_pack.py --size 320 --out pack320

The data is CelebA-HQ / CelebAMask-HQ: non-commercial research and education only. Never commit the pack.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from a checkout, not an installed package

import numpy as np  # noqa: E402

from fpliif.data.dataset import sides_swapped  # noqa: E402
from fpliif.labels import CELEBAMASK_HQ  # noqa: E402

IMAGE_EXTS = (".jpg", ".jpeg", ".png")


def resize_image(src: Path, dst: Path, size: int, quality: int) -> None:
    """An RGB photo resized bicubic (antialiased) to ``size x size`` and saved as JPEG."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BICUBIC)
        im.save(dst.with_suffix(".jpg"), quality=quality)  # 4:2:0 chroma, as the sources


def resize_mask(src: Path, dst: Path, size: int) -> None:
    """A label or binary mask resized nearest (no new values) to ``size x size``; PNG mode and palette kept."""
    with Image.open(src) as im:
        if im.mode not in ("L", "P", "I;16", "I"):
            raise ValueError(f"{src} is a {im.mode} image; a mask must be single-channel (L or P) class ids")
        if im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.NEAREST)
        im.save(dst.with_suffix(".png"), optimize=True)


def files(folder: Path, exts: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing; pass --src pointing at the shared data folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in exts)


def pack_pairs(src: Path, out: Path, mask_dir: str, size: int, quality: int) -> int:
    """Each image in ``src/images`` and its mask in ``src/<mask_dir>`` at ``size`` px (bicubic; masks nearest)."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / mask_dir).mkdir(parents=True, exist_ok=True)
    images = files(src / "images", IMAGE_EXTS)
    for path in images:
        mask = src / mask_dir / (path.stem + ".png")
        if not mask.is_file():
            raise FileNotFoundError(f"{path.name} has no mask {mask}; the source dataset is incomplete")
        resize_image(path, out / "images" / path.name, size, quality)
        resize_mask(mask, out / mask_dir / mask.name, size)
    return len(images)


def pack_labelled(src: Path, out: Path, size: int, quality: int) -> int:
    """celebamask-mini at ``size`` px: images/, masks/, splits.json, labels.txt, sides_swapped.json."""
    count = pack_pairs(src, out, "masks", size, quality)
    shutil.copyfile(src / "splits.json", out / "splits.json")
    write_labels(out)
    fix_sides(out, json.loads((src / "splits.json").read_text())["train"])
    return count


def fix_sides(out: Path, train_ids: list[str]) -> list[str]:
    """Swap left/right classes back in the train masks that have them on the wrong sides (never val)."""
    mirror = np.array(CELEBAMASK_HQ.mirror_permutation() + list(range(len(CELEBAMASK_HQ), 256)), dtype=np.uint8)
    fixed = []
    for ident in train_ids:
        path = out / "masks" / f"{ident}.png"
        with Image.open(path) as im:
            mask = np.asarray(im)
        if sides_swapped(mask, CELEBAMASK_HQ.names):
            Image.fromarray(mirror[mask]).save(path, optimize=True)
            fixed.append(ident)
    (out / "sides_swapped.json").write_text(json.dumps(
        {"note": "train masks whose left/right classes were swapped back by make_pack.py", "ids": fixed}) + "\n")
    return fixed


def pack_val_originals(src: Path, out: Path) -> int:
    """The val pairs at full resolution, copied unchanged (for evaluation at an output size above the input)."""
    val = json.loads((src / "splits.json").read_text())["val"]
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for ident in val:
        image = next((src / "images" / (ident + e) for e in IMAGE_EXTS if (src / "images" / (ident + e)).is_file()),
                     None)
        if image is None:
            raise FileNotFoundError(f"val id {ident} has no image in {src / 'images'}")
        shutil.copyfile(image, out / "images" / image.name)
        shutil.copyfile(src / "masks" / (ident + ".png"), out / "masks" / (ident + ".png"))
    (out / "splits.json").write_text(json.dumps({"val": val}, indent=1) + "\n")
    write_labels(out)
    return len(val)


def pack_hair(src: Path, out: Path, size: int, quality: int) -> int:
    """celeb1k-hair at ``size`` px: images/ and hair/ (binary masks, 255 = hair)."""
    return pack_pairs(src, out, "hair", size, quality)


def pack_unlabelled(src: Path, out: Path, size: int, quality: int) -> int:
    """unlabeled-faces at ``size`` px, keeping its sub-folders (ce7454/, ai6126/)."""
    count = 0
    for sub in sorted(p for p in src.iterdir() if p.is_dir()):
        (out / sub.name).mkdir(parents=True, exist_ok=True)
        for path in files(sub, IMAGE_EXTS):
            resize_image(path, out / sub.name / path.name, size, quality)
            count += 1
    return count


def write_labels(out: Path) -> None:
    (out / "labels.txt").write_text("\n".join(CELEBAMASK_HQ.names) + "\n")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_readme(out: Path, size: int, counts: dict[str, int]) -> None:
    rows = "\n".join(f"| {name}/ | {n} | {folder_size(out / name) / 2**20:.1f} MiB |" for name, n in counts.items())
    (out / "PACK.md").write_text(
        f"# fpliif training pack ({size} px)\n\n"
        "Made by `python scripts/make_pack.py` from CelebA-HQ / CelebAMask-HQ data.\n"
        "**Licence: non-commercial research and education only. Never commit this folder.**\n\n"
        f"| folder | items | size |\n|---|---|---|\n{rows}\n\n"
        f"Total: {folder_size(out) / 2**20:.1f} MiB\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data",
                   help="the source data folder (default: ../shared/data beside the checkout)")
    p.add_argument("--out", type=Path, default=ROOT / "pack", help="where the pack goes (git-ignored)")
    p.add_argument("--size", type=int, default=256, help="side of the resized images and masks (default 256)")
    p.add_argument("--quality", type=int, default=85,
                   help="JPEG quality of the resized images (default 85: ~38 dB PSNR, ~14 KB each)")
    args = p.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty; remove it first (rm -r {args.out}) or pass --out elsewhere")
    counts = {
        "celebamask-mini": pack_labelled(args.src / "celebamask-mini", args.out / "celebamask-mini",
                                         args.size, args.quality),
        "celebamask-mini-512": pack_val_originals(args.src / "celebamask-mini", args.out / "celebamask-mini-512"),
        "celeb1k-hair": pack_hair(args.src / "celeb1k-hair", args.out / "celeb1k-hair", args.size, args.quality),
        "unlabeled-faces": pack_unlabelled(args.src / "unlabeled-faces", args.out / "unlabeled-faces",
                                           args.size, args.quality),
    }
    write_readme(args.out, args.size, counts)
    print((args.out / "PACK.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
