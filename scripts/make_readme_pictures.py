"""The README's pictures, made with the shipped weights (run after changing the weights or the renderer).

    python scripts/make_readme_pictures.py            # examples/astronaut_parsing.png, examples/group_parsing.png

``astronaut_parsing.png``: the sample face, its colour map and the overlay (what the README's first command
writes). ``group_parsing.png``: the made-up group photo ``astronauts_group.jpg`` (four faces of different sizes,
two rotated), the overlay with each face parsed aligned and painted back, and the soft hair mask of all faces:
what a whole photo gives, not only a face-filling crop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from a checkout

from fpliif import FaceParser  # noqa: E402

GAP = 8


def panel(pictures: list[Image.Image], titles: list[str], height: int) -> Image.Image:
    """Pictures side by side at one height, a caption under each, on white."""
    scaled = [p.convert("RGB").resize((round(p.width * height / p.height), height), Image.Resampling.LANCZOS)
              for p in pictures]
    width = sum(p.width for p in scaled) + GAP * (len(scaled) + 1)
    out = Image.new("RGB", (width, height + 2 * GAP + 16), "white")
    draw, x = ImageDraw.Draw(out), GAP
    for picture, title in zip(scaled, titles):
        out.paste(picture, (x, GAP))
        draw.text((x, height + GAP + 3), title, fill=(40, 40, 40))
        x += picture.width + GAP
    return out


def mask_picture(mask) -> Image.Image:
    return Image.fromarray((np.asarray(mask) * 255 + 0.5).clip(0, 255).astype(np.uint8), "L")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="weights (default: the shipped ones)")
    p.add_argument("--out", type=Path, default=ROOT / "examples")
    args = p.parse_args()
    parser = FaceParser.from_pretrained(args.model, device="cpu")

    face = Image.open(ROOT / "examples" / "astronaut.png").convert("RGB")
    result = parser(face, size=480)  # twice the photo: the decoder's edges, not an upscaled label grid
    panel([face, result.color_map(), result.overlay(0.5)],
          ["astronaut.png (240 px)", "colour map at 480 px", "overlay"], 360).save(args.out / "astronaut_parsing.png")

    group = Image.open(ROOT / "examples" / "astronauts_group.jpg").convert("RGB")
    result = parser(group)
    panel([group, result.overlay(0.55), mask_picture(result.mask("hair", soft=True))],
          ["astronauts_group.jpg", f"{len(result.faces)} faces found, each parsed aligned", "hair, soft mask"],
          300).save(args.out / "group_parsing.png")
    print(f"wrote {args.out / 'astronaut_parsing.png'} and {args.out / 'group_parsing.png'}")


if __name__ == "__main__":
    main()
