"""``fpliif parse`` on videos and animated GIF/WebP: per-frame PNGs and, with ``--video-out``, ``.mp4`` videos.

A clip ``NAME.mp4`` gives ``OUT/NAME/NAME_00000_index.png``, ... (one set of ``--save`` outputs per frame) and,
for each ``--video-out`` kind, ``OUT/NAME/NAME_KIND.mp4`` at the clip's frame rate (``NAME_mask_SELECTION.mp4``
for the mask). Frames are streamed ``--batch-size`` at a time, so memory does not grow with the length of the
clip; faces are found in every frame (``--faces``).
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

from ..video import FrameReader, VideoWriter, import_av, is_animated, is_video
from . import CommandError
from .arguments import kinds_list
from .files import InputFile
from .progress import progress_bar, report

__all__ = ["add_video_arguments", "split_inputs", "check_sequences", "parse_sequences", "frame_item", "video_paths",
           "VIDEO_KINDS"]

VIDEO_KINDS = {
    "overlay": "the colour map blended over each frame",
    "color": "the colour map of each frame",
    "mask": "the --labels mask of each frame (white = selected; --soft for probabilities)",
}


def add_video_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video-out", type=kinds_list(VIDEO_KINDS, "video kind"), default=[], metavar="KINDS",
                   help="for video and animated inputs, also write NAME_KIND.mp4 at the input's frame rate; "
                        "comma-separated: " + ", ".join(VIDEO_KINDS) + " (needs PyAV)")


def split_inputs(inputs: list[InputFile]) -> tuple[list[InputFile], list[InputFile]]:
    """``(still images, frame sequences)``; sequences are videos and animated GIF/WebP files."""
    sequences = [f for f in inputs if is_video(f.path) or is_animated(f.path)]
    chosen = {id(f) for f in sequences}
    return [f for f in inputs if id(f) not in chosen], sequences


def check_sequences(args: argparse.Namespace, kinds: list[str], images: list, sequences: list) -> None:
    """Usage errors of the video options, raised before the model is loaded."""
    if not kinds and not args.video_out:
        raise CommandError("--save none writes nothing; add --video-out overlay (for videos) or choose --save kinds")
    if not kinds and images:
        raise CommandError(f"--save none leaves nothing to write for the {len(images)} still image(s), e.g. "
                           f"{images[0].path}; give --save kinds, or only videos")
    if not args.video_out:
        return
    if not sequences:
        raise CommandError("--video-out needs a video or animated GIF/WebP among the inputs; none was found")
    if "mask" in args.video_out and not args.labels:
        raise CommandError("--video-out mask needs --labels (e.g. --labels hair); run `fpliif labels` for the names")
    try:
        import_av()
    except ImportError as e:
        raise CommandError(f"--video-out writes .mp4 files, and {e}") from e


def frame_item(item: InputFile, index: int) -> InputFile:
    """Frame ``index`` of a sequence as an output stem: ``NAME/NAME_00042`` (relative to ``--out``)."""
    return InputFile(item.path, item.stem / f"{item.stem.name}_{index:05d}")


def video_paths(jobs, item: InputFile, kinds: list[str]) -> dict[str, Path]:
    """``--video-out`` kind -> ``OUT/NAME/NAME_KIND.mp4`` (``NAME_mask_SELECTION.mp4`` for the mask)."""
    names = {kind: jobs.mask_suffix() if kind == "mask" else kind for kind in kinds}
    return {kind: jobs.folder.root / item.stem / f"{item.stem.name}_{names[kind]}.mp4" for kind in kinds}


def parse_sequences(parser, sequences: list[InputFile], jobs, args: argparse.Namespace,
                    tally=None) -> tuple[list[str], int]:
    """Parse every video and animation; returns ``("path: reason" per failure, frames parsed in all)``.

    ``tally`` (a :class:`~fpliif.cli.parse.FaceTally`) counts each frame's faces.
    """
    failed: list[str] = []
    total = 0
    for item in sequences:
        bar = None
        try:
            with FrameReader(item.path) as reader:
                bar = progress_bar(reader.count, args.quiet, unit="frame", desc=item.path.name)
                total += parse_sequence(parser, reader, item, jobs, args, bar, tally)
        except (OSError, ValueError, RuntimeError, TypeError, ImportError) as e:
            failed.append(report(bar or progress_bar(0, True), item.path, e))
        finally:
            if bar is not None:
                bar.close()
    return failed, total


def parse_sequence(parser, reader: FrameReader, item: InputFile, jobs, args, bar, tally=None) -> int:
    """Parse and write one sequence frame by frame; a partial ``--video-out`` file is removed on failure."""
    count = 0
    record = lambda path: (lambda tmp: jobs.folder.record(path, tmp))
    with ExitStack() as stack:
        writers = {kind: stack.enter_context(VideoWriter(path, reader.fps, before_replace=record(path)))
                   for kind, path in video_paths(jobs, item, args.video_out).items()}
        results = parser.parse_frames(reader, size=args.size, scale=args.scale, batch_size=args.batch_size,
                                      faces=args.faces)
        for count, result in enumerate(results, 1):
            if jobs.kinds:
                jobs.write(frame_item(item, count - 1), result)
            for kind, writer in writers.items():
                writer.write(jobs.render(kind, result))
            if tally is not None:
                tally.add(item, result, frame=True)
            bar.update(1)
    if count == 0:
        raise ValueError(f"{item.path} has no frames")
    return count
