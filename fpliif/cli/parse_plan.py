"""Everything ``fpliif parse`` checks before the first image is decoded: input sizes from the files' headers,
output sizes against ``--size``/``--scale``, and every output path against the output folder's record.

An option that cannot work for some input (``--scale 0.0001`` on a small photo) is a usage error (exit 2) before
any work; an input that cannot be parsed on its own (too large, unreadable header) fails by name, and the others
are parsed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..image import image_size
from ..parser import MAX_SIDE
from . import CommandError
from .files import InputFile
from .parse_outputs import OutputJobs

__all__ = ["read_sizes", "check_targets", "max_pixels", "large_output_note", "LARGE_OUTPUT"]

LARGE_OUTPUT = 4096 * 4096  # output pixels from which the run says what it will cost


def max_pixels(args: argparse.Namespace) -> int:
    """``--max-megapixels`` in pixels."""
    return int(args.max_megapixels * 1e6)


def read_sizes(images: list[InputFile], sequences: list[InputFile], args: argparse.Namespace) -> dict:
    """Read each still image's size from its header (no decoding) and each video's from its stream.

    Returns:
        ``{input: reason}`` for the inputs that cannot be parsed (missing, unreadable, too large, an output over
        the size limit at the input's own size); the others get :attr:`InputFile.size`.

    Raises:
        CommandError: ``--size`` or ``--scale`` gives some input an output under 1 px or over the limit.
    """
    failed: dict[InputFile, str] = {}
    for item, is_sequence in [(f, False) for f in images] + [(f, True) for f in sequences]:
        try:
            item.size = _frame_size(item.path) if is_sequence else image_size(item.path, max_pixels(args))
        except (OSError, ValueError, ImportError) as e:
            if not is_sequence:  # a sequence's reader names its own problem when it is parsed
                failed[item] = str(e)
            continue
        problem = _output_problem(item.size, args)
        if problem and (args.size is not None or args.scale is not None):
            option = f"--size {_size_text(args.size)}" if args.size is not None else f"--scale {args.scale:g}"
            raise CommandError(f"{option} gives {item.path} ({item.size[1]}x{item.size[0]} px) {problem}; "
                               "choose a size or scale that fits every input")
        if problem:
            failed[item] = (f"{item.path} is {item.size[1]}x{item.size[0]} px: an output at its own size is "
                            f"{problem}; give --size {MAX_SIDE} (or less)")
    return failed


def _frame_size(path: Path) -> tuple[int, int]:
    from ..video import frame_size

    return frame_size(path)


def _size_text(size) -> str:
    return f"{size[0]}x{size[1]}" if isinstance(size, tuple) else str(size)


def output_hw(size_hw: tuple[int, int], args: argparse.Namespace) -> tuple[float, float]:
    """The output size before rounding, as :func:`fpliif.parser.output_size` computes it."""
    h, w = size_hw
    if args.scale is not None:
        return h * args.scale, w * args.scale
    if isinstance(args.size, tuple):
        return float(args.size[0]), float(args.size[1])
    if args.size is not None:
        return h * args.size / max(h, w), w * args.size / max(h, w)
    return float(h), float(w)


def _output_problem(size_hw: tuple[int, int], args: argparse.Namespace) -> str | None:
    out_h, out_w = output_hw(size_hw, args)
    if min(round(out_h), round(out_w)) < 1:
        return f"an output of {out_w:.2g}x{out_h:.2g} px, under 1 px"
    if max(round(out_h), round(out_w)) > MAX_SIDE:
        return f"an output of {round(out_w)}x{round(out_h)} px, over the {MAX_SIDE} px limit"
    return None


def large_output_note(items: list[InputFile], args: argparse.Namespace) -> str | None:
    """A note when an output is very large: what it costs in time and memory."""
    sizes = [output_hw(f.size, args) for f in items if f.size is not None]
    if not sizes:
        return None
    h, w = max(sizes, key=lambda hw: hw[0] * hw[1])
    if h * w < LARGE_OUTPUT:
        return None
    return (f"large outputs (up to {round(w)}x{round(h)} px, {h * w / 1e6:.0f} MP): rendered in tiles within about "
            f"1.5 GB of memory, but expect tens of seconds per image on a CPU")


def check_targets(jobs: OutputJobs, images: list[InputFile], sequences: list[InputFile],
                  video_paths) -> None:
    """Refuse (exit 2, before any work) outputs that would replace an input or a file fpliif did not write.

    Per-face masks depend on how many faces are found, so they are checked again when they are written.
    """
    folder = jobs.folder
    paths: list[Path] = []
    for item in images:
        paths.extend(jobs.paths(item).values())
    for item in sequences:
        paths.extend(video_paths(item).values())
        folder.check_folder(folder.root / item.stem)
    folder.check(paths)
