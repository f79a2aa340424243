"""Files for the command line: finding images and videos, and naming outputs without collisions."""

from __future__ import annotations

import glob
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..image import IMAGE_EXTENSIONS, list_images
from ..video import ANIMATED_EXTENSIONS, VIDEO_EXTENSIONS
from .outputs import MANIFEST_NAME, recorded_outputs

__all__ = ["InputFile", "Inputs", "collect_inputs", "plan_outputs", "GLOB_CHARS", "INPUT_EXTENSIONS"]

GLOB_CHARS = set("*?[")
# Images, animated GIF/WebP (a still one is read as an image) and videos.
INPUT_EXTENSIONS = tuple(dict.fromkeys(IMAGE_EXTENSIONS + ANIMATED_EXTENSIONS + VIDEO_EXTENSIONS))


@dataclass(eq=False)  # compared and hashed by identity: one object per input
class InputFile:
    """One input as the user named it, and where its outputs go.

    Attributes:
        path: the input file (may not exist: then it is reported as failed, by name).
        stem: output path without extension, relative to ``--out`` (e.g. ``sub/face``).
        size: ``(height, width)`` from the file's header, once read (see ``fpliif parse``'s planning).
    """

    path: Path
    stem: Path | None = None
    size: tuple[int, int] | None = None


@dataclass
class Inputs:
    """What :func:`collect_inputs` found: the files, and notes for the user (skipped outputs, sub-folders)."""

    files: list[InputFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect_inputs(items: list[str], recursive: bool = False, out: Path | None = None) -> Inputs:
    """Files, folders and glob patterns -> image and video files, in a stable order, without duplicates.

    A folder gives its images and videos (with ``recursive``, those of sub-folders too); a pattern gives its matches.
    A named file is kept even if it is missing or not an image, so the run can report it by name. Files that an
    earlier ``fpliif parse`` recorded as its outputs (:mod:`fpliif.cli.outputs`) are skipped when they come from a
    folder or a pattern, never guessed from their names; a named file is always taken.
    """
    found: list[Path] = []
    recorded = _Recorded()
    notes: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(recorded.drop(list_images(path, recursive, INPUT_EXTENSIONS)))
            if not recursive:
                notes.extend(_subfolder_note(path, out))
        elif not path.exists() and GLOB_CHARS & set(item):
            matches = sorted(glob.glob(str(path), recursive=True))
            images = [Path(m) for m in matches if Path(m).is_file() and Path(m).suffix.lower() in INPUT_EXTENSIONS]
            if not images:
                types = ", ".join(INPUT_EXTENSIONS)
                raise FileNotFoundError(f"no images or videos match {item!r}; file types: {types}")
            found.extend(recorded.drop(images))
        else:
            found.append(path)
    if recorded.skipped:
        where = ", ".join(str(m) for m in recorded.manifests)
        notes.append(f"skipped {recorded.skipped} file(s) that fpliif wrote earlier (recorded in {where})")
    unique = list(dict.fromkeys(p.resolve() if p.exists() else p for p in found))
    return Inputs([InputFile(p) for p in unique], notes)


class _Recorded:
    """Earlier outputs: the files recorded in the manifest of any folder above a candidate input."""

    def __init__(self) -> None:
        self.by_folder: dict[Path, set[Path]] = {}
        self.manifests: list[Path] = []
        self.skipped = 0

    def drop(self, paths: list[Path]) -> list[Path]:
        kept = [p for p in paths if not self._recorded(p.resolve())]
        self.skipped += len(paths) - len(kept)
        return kept

    def _recorded(self, path: Path) -> bool:
        return any(path in self._outputs(folder) for folder in path.parents)

    def _outputs(self, folder: Path) -> set[Path]:
        if folder not in self.by_folder:
            self.by_folder[folder] = recorded_outputs(folder) if (folder / MANIFEST_NAME).is_file() else set()
            if self.by_folder[folder]:
                self.manifests.append(folder / MANIFEST_NAME)
        return self.by_folder[folder]


def _subfolder_note(folder: Path, out: Path | None) -> list[str]:
    """A note naming ``folder``'s sub-folders that hold images or videos (not taken without ``--recursive``)."""
    out = out.resolve() if out is not None else None
    subs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and d.resolve() != out and not (d / MANIFEST_NAME).is_file() and _holds_inputs(d))
    if not subs:
        return []
    names = ", ".join(d.name for d in subs[:5]) + (f" (+{len(subs) - 5} more)" if len(subs) > 5 else "")
    return [f"{folder} has {len(subs)} sub-folder(s) with images or videos ({names}), not parsed: add -r "
            "(--recursive) to parse them too"]


def _holds_inputs(folder: Path) -> bool:
    for _, _, files in os.walk(folder):
        if any(Path(f).suffix.lower() in INPUT_EXTENSIONS for f in files):
            return True
    return False


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
