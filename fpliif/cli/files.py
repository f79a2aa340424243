"""Files for the command line: finding images and videos, naming outputs without collisions, writing atomically."""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..image import IMAGE_EXTENSIONS, list_images
from ..video import ANIMATED_EXTENSIONS, VIDEO_EXTENSIONS

__all__ = ["InputFile", "collect_inputs", "plan_outputs", "save_png", "GLOB_CHARS", "INPUT_EXTENSIONS"]

GLOB_CHARS = set("*?[")
OUTPUT_NAME = re.compile(r"_(index|color|overlay|mask(_\w+)?)\.(png|mp4)$")
# Images, animated GIF/WebP (a still one is read as an image) and videos.
INPUT_EXTENSIONS = tuple(dict.fromkeys(IMAGE_EXTENSIONS + ANIMATED_EXTENSIONS + VIDEO_EXTENSIONS))


@dataclass
class InputFile:
    """One input as the user named it, and where its outputs go.

    Attributes:
        path: the input file (may not exist: then it is reported as failed, by name).
        stem: output path without extension, relative to ``--out`` (e.g. ``sub/face``).
    """

    path: Path
    stem: Path | None = None


def collect_inputs(items: list[str], recursive: bool = False, exclude: Path | None = None) -> list[InputFile]:
    """Files, folders and glob patterns -> image and video files, in a stable order, without duplicates.

    A folder gives its images and videos (with ``recursive``, those of sub-folders too); a pattern gives its matches.
    A named file is kept even if it is missing or not an image, so the run can report it by name.
    Earlier outputs under ``exclude`` (the output folder) are skipped, so a re-run never parses its own outputs.
    """
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(_skip_outputs(list_images(path, recursive, INPUT_EXTENSIONS), exclude))
        elif not path.exists() and GLOB_CHARS & set(item):
            matches = sorted(glob.glob(str(path), recursive=True))
            images = [Path(m) for m in matches if Path(m).is_file() and Path(m).suffix.lower() in INPUT_EXTENSIONS]
            if not images:
                types = ", ".join(INPUT_EXTENSIONS)
                raise FileNotFoundError(f"no images or videos match {item!r}; file types: {types}")
            found.extend(_skip_outputs(images, exclude))
        else:
            found.append(path)
    unique = list(dict.fromkeys(p.resolve() if p.exists() else p for p in found))
    return [InputFile(p) for p in unique]


def _skip_outputs(paths: list[Path], out: Path | None) -> list[Path]:
    """Drop earlier outputs of ``fpliif parse`` (``*_index.png``, ``*_overlay.mp4``, ...) found under ``out``."""
    if out is None:
        return paths
    out = out.resolve()
    return [p for p in paths if not (OUTPUT_NAME.search(p.name) and out in p.resolve().parents)]


def plan_outputs(inputs: list[InputFile]) -> None:
    """Give each input an output stem that mirrors its folders below the inputs' common folder.

    ``a/face.jpg`` and ``b/face.jpg`` become ``a/face`` and ``b/face``; ``face.jpg`` and ``face.png`` in one
    folder become ``face_jpg`` and ``face_png``, so no two inputs ever write the same file.
    """
    if not inputs:
        return
    parents = [str(f.path.absolute().parent) for f in inputs]
    root = Path(os.path.commonpath(parents))
    stems = [f.path.absolute().relative_to(root).with_suffix("") for f in inputs]
    counts = Counter(stems)
    for f, stem in zip(inputs, stems):
        if counts[stem] > 1:
            stem = stem.with_name(f"{stem.name}_{f.path.suffix.lstrip('.').lower()}")
        f.stem = stem


def save_png(image: Image.Image, path: Path, inputs: set[Path]) -> None:
    """Write a PNG through a temporary file and ``os.replace``, so a crash never leaves half a file.

    Raises:
        CommandError-like ``FileExistsError`` if ``path`` is one of the inputs (never overwrite an input).
    """
    if path.resolve() in inputs:
        raise FileExistsError(f"refusing to overwrite input file {path}; choose another --out folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
