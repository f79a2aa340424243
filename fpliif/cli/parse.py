"""``fpliif parse``: label maps, colour maps, overlays and masks for images, videos, folders and globs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image

from ..image import load_image, to_pil
from . import CommandError
from .arguments import (
    add_command,
    add_device_argument,
    add_dtype_argument,
    add_model_arguments,
    kinds_list,
    load_parser,
    parse_size,
)
from .files import InputFile, collect_inputs, plan_outputs, save_png
from .parse_video import add_video_arguments, check_sequences, parse_sequences, split_inputs
from .progress import progress_bar, report

__all__ = ["add_parser", "run", "SAVE_KINDS", "OutputJobs"]

SAVE_KINDS = {
    "index": "single-channel PNG, pixel value = class id (see `fpliif labels`)",
    "color": "the label map in each class's colour",
    "overlay": "the colour map blended over the image",
    "mask": "one mask of all --labels together (white = selected)",
    "masks": "one mask per --labels entry (every class when --labels is not given)",
}

EPILOG = """\
outputs (in --out, mirroring the inputs' sub-folders):
  NAME_index.png     class ids (0 = background)     NAME_color.png    colour map
  NAME_overlay.png   colours over the image         NAME_mask.png     --labels combined
  NAME_mask_LABEL.png  one per label (--save masks)
  videos and animated GIF/WebP: NAME/NAME_00000_index.png, ... one set per frame;
  with --video-out overlay: NAME/NAME_overlay.mp4 at the input's frame rate

examples:
  fpliif parse face.jpg --out parsed/
  fpliif parse photos/ --recursive --out parsed/ --save index,color,overlay
  fpliif parse "shots/*.png" --out masks/ --labels hair --save mask --soft --size 1024
  fpliif parse face.jpg --out parsed/ --labels face,ears --save masks --scale 2
  fpliif parse faces/ --out parsed/ --model user/fpliif-celebamask@v1.0 --device cuda
  fpliif parse clip.mp4 --out parsed/ --labels hair --save mask --video-out overlay,mask --batch-size 8
  fpliif parse clip.mp4 --out parsed/ --save none --video-out overlay     # only the video, no frame PNGs

Run `fpliif labels` for the label and group names --labels accepts. Videos (.mp4, .mov, .avi, .mkv, .webm)
need PyAV: pip install 'fpliif[video]'; animated GIF/WebP need nothing more.
Exit status: 0 when every input was parsed, 1 when some failed (each is named), 2 for usage errors.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "parse", run,
                    help="parse face images and videos into label maps, colour maps, overlays and masks",
                    description="Parse face images and videos with an FP-LIIF model at any output resolution.",
                    epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, folders or glob patterns")
    p.add_argument("--out", "-o", required=True, type=Path, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--recursive", "-r", action="store_true",
                   help="also take images and videos in sub-folders of folder inputs")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=parse_size, metavar="N|HxW",
                      help="output size: N for the longer side (aspect kept) or HxW; default: the input size")
    size.add_argument("--scale", type=float, metavar="F", help="output size as F times the input size, e.g. 2 or 0.5")
    p.add_argument("--labels", "-l", metavar="LIST",
                   help="comma-separated labels and groups for the masks, e.g. hair or face,ears")
    p.add_argument("--save", type=kinds_list(SAVE_KINDS, "output kind", allow_none=True), metavar="KINDS",
                   help="comma-separated outputs: " + ", ".join(SAVE_KINDS)
                        + " (default: index,color; plus mask when --labels is given; none: no PNGs)")
    p.add_argument("--soft", action="store_true",
                   help="masks hold the probability (0-255) instead of a hard 0/255 choice")
    add_model_arguments(p)
    add_device_argument(p)
    add_dtype_argument(p)
    p.add_argument("--batch-size", type=int, default=4, metavar="N",
                   help="images or video frames encoded at once (default: 4)")
    add_video_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.scale is not None and args.scale <= 0:
        raise CommandError(f"--scale must be > 0, got {args.scale}")
    kinds = args.save if args.save is not None else (["index", "color"] + (["mask"] if args.labels else []))
    if "mask" in kinds and not args.labels:
        raise CommandError("--save mask needs --labels (e.g. --labels hair); run `fpliif labels` for the names")
    inputs = collect_inputs(args.inputs, args.recursive, exclude=args.out)
    if not inputs:
        raise CommandError(f"no images found in {' '.join(args.inputs)}")
    plan_outputs(inputs)
    images, sequences = split_inputs(inputs)
    check_sequences(args, kinds, images, sequences)
    parser = load_parser(args)
    selected = parser.label_set.resolve(args.labels) if args.labels else list(range(len(parser.label_set)))
    jobs = OutputJobs(args.out, kinds, selected, args.soft, parser.label_set.names)
    jobs.check_inputs_safe(inputs)
    failed = parse_all(parser, images, jobs, args) if images else []
    seq_failed, frames = parse_sequences(parser, sequences, jobs, args)
    failed += seq_failed
    summarise(len(inputs), failed, args.out, time.perf_counter() - started, frames)
    return 1 if failed else 0


class OutputJobs:
    """Turns one :class:`~fpliif.parser.ParseResult` into the PNG files the user asked for."""

    def __init__(self, out: Path, kinds: list[str], selected: list[int], soft: bool, names: tuple[str, ...]):
        self.out, self.kinds, self.selected, self.soft, self.names = out, kinds, selected, soft, names
        self.input_paths: set[Path] = set()

    def paths(self, item: InputFile) -> dict[str, Path]:
        """Output kind (``"mask_hair"`` for per-label masks) -> file path."""
        base = self.out / item.stem
        paths = {}
        for kind in self.kinds:
            if kind == "masks":
                for i in self.selected:
                    paths[f"mask_{self.names[i]}"] = base.with_name(f"{base.name}_mask_{self.names[i]}.png")
            else:
                paths[kind] = base.with_name(f"{base.name}_{kind}.png")
        return paths

    def check_inputs_safe(self, inputs: list[InputFile]) -> None:
        self.input_paths = {f.path.resolve() for f in inputs if f.path.exists()}
        for item in inputs:
            for path in self.paths(item).values():
                if path.resolve() in self.input_paths:
                    raise CommandError(f"output {path} would overwrite an input image; choose another --out folder")

    def write(self, item: InputFile, result) -> None:
        for kind, path in self.paths(item).items():
            save_png(self.render(kind, result), path, self.input_paths)

    def render(self, kind: str, result) -> Image.Image:
        if kind == "index":
            return Image.fromarray(result.label_map(), mode="L")
        if kind == "color":
            return result.color_map()
        if kind == "overlay":
            return result.overlay()
        ids = self.selected if kind == "mask" else [self.names.index(kind.removeprefix("mask_"))]
        return to_pil(result.mask(ids, soft=self.soft))


def parse_all(parser, inputs: list[InputFile], jobs: OutputJobs, args: argparse.Namespace) -> list[str]:
    """Parse and write every input in batches; returns ``"path: reason"`` for each one that failed."""
    failed: list[str] = []
    bar = progress_bar(len(inputs), args.quiet)
    for start in range(0, len(inputs), args.batch_size):
        batch = inputs[start:start + args.batch_size]
        loaded = []
        for item in batch:
            try:
                loaded.append((item, load_image(item.path)))
            except (OSError, ValueError) as e:
                failed.append(report(bar, item.path, e))
        for item, error in parse_and_write(parser, loaded, jobs, args):
            failed.append(report(bar, item.path, error))
        bar.update(len(batch))
    bar.close()
    return failed


def parse_and_write(parser, loaded: list, jobs: OutputJobs, args) -> list[tuple[InputFile, Exception]]:
    """Parse a batch; if the batch fails, retry one by one so only the bad image is lost."""
    if not loaded:
        return []
    try:
        results = parser([im for _, im in loaded], size=args.size, scale=args.scale, batch_size=len(loaded))
    except (ValueError, RuntimeError, TypeError) as e:
        if len(loaded) == 1:
            return [(loaded[0][0], e)]
        return [err for one in loaded for err in parse_and_write(parser, [one], jobs, args)]
    errors = []
    for (item, _), result in zip(loaded, results):
        try:
            jobs.write(item, result)
        except OSError as e:
            errors.append((item, e))
    return errors


def summarise(total: int, failed: list[str], out: Path, seconds: float, frames: int = 0) -> None:
    done = total - len(failed)
    per = f", {seconds / total:.2f} s/{'input' if frames else 'image'}" if total else ""
    video = f" (with {frames} video frames)" if frames else ""
    print(f"fpliif parse: {done} parsed{video}, {len(failed)} failed, outputs in {out} ({seconds:.1f} s{per})",
          file=sys.stderr)
    for line in failed:
        print(f"  failed: {line}", file=sys.stderr)
