"""``fpliif parse``: label maps, colour maps, overlays and masks for images, videos, folders and globs.

Reading order: :func:`run` checks every option, the inputs (from their headers) and the output folder before any
work (:mod:`fpliif.cli.parse_plan`), loads the model, then :func:`parse_all` parses still images in batches and
:func:`~fpliif.cli.parse_video.parse_sequences` videos frame by frame; :class:`~fpliif.cli.parse_outputs.OutputJobs`
writes the files through the output folder's record (:mod:`fpliif.cli.outputs`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..image import MAX_INPUT_PIXELS, load_image
from ..parser import FACE_MODES
from ..text import first_few
from . import CommandError
from .arguments import (
    add_command,
    add_device_argument,
    add_dtype_argument,
    add_model_arguments,
    add_tta_argument,
    kinds_list,
    load_parser,
    open_interval,
    parse_size,
    positive_int,
    positive_number,
)
from .files import InputFile, collect_inputs, plan_outputs
from .outputs import MANIFEST_NAME, OutputConflict, OutputFolder, check_writable
from .parse_outputs import MASK_KINDS, SAVE_KINDS, OutputJobs
from .parse_plan import check_targets, large_output_note, max_pixels, read_sizes
from .parse_video import add_video_arguments, check_sequences, parse_sequences, split_inputs, video_paths
from .progress import progress_bar, report

__all__ = ["add_parser", "run", "SAVE_KINDS", "OutputJobs", "FaceTally", "face_choice"]

EPILOG = f"""\
outputs (in --out, mirroring the inputs' sub-folders):
  NAME_index.png     class ids (0 = background)     NAME_color.png     colour map
  NAME_overlay.png   colours over the image         NAME_outline.png   class borders over the image
  NAME_mask_SELECTION.png  --labels combined, e.g. NAME_mask_hair.png, NAME_mask_face+ears.png
  NAME_mask_LABEL.png      one per class (--save masks)
  NAME_faces.json    each face's box, crop box, score, landmarks, alignment (--save faces)
  NAME_faceK_mask_...png   the masks of face K alone, largest face first (--per-face)
  videos and animated GIF/WebP: NAME/NAME_00000_index.png, ... one set per frame;
  with --video-out overlay: NAME/NAME_overlay.mp4 at the input's frame rate

faces: --faces auto (default; all is the same) finds the faces and parses each aligned, painted back at the
photo's size; a photo where no face is found is parsed whole (the summary says which). largest: the largest face
only; none: the whole image as it is (pre-cropped faces); 0,2: those faces only.

safety: every file written is recorded in OUT/{MANIFEST_NAME}; an output never replaces an input or a file
fpliif did not write (or that changed since), and files in that record are never taken as inputs.

examples:
  fpliif parse face.jpg --out parsed/
  fpliif parse photos/ --recursive --out parsed/ --save index,color,overlay
  fpliif parse "shots/*.png" --out masks/ --labels hair --save mask --soft --size 1024
  fpliif parse group.jpg --out parsed/ --labels hair --save mask,faces --per-face
  fpliif parse face.jpg --out parsed/ --labels face,ears --save masks --scale 2
  fpliif parse faces/ --out parsed/ --faces none --model user/fpliif-celebamask@v1.0 --device cuda
  fpliif parse clip.mp4 --out parsed/ --labels hair --save mask --video-out overlay,mask --batch-size 8
  fpliif parse clip.mp4 --out parsed/ --save none --video-out overlay     # only the video, no frame PNGs

Run `fpliif labels` for the label and group names --labels accepts. Videos (.mp4, .mov, .avi, .mkv, .webm)
need PyAV: pip install 'fpliif[video]'; animated GIF/WebP need nothing more.
Exit status: 0 when every input was parsed, 1 when some failed (each is named), 2 for usage errors (before any
work).
"""


def face_choice(text: str) -> str | list[int]:
    """``--faces``: a mode of :data:`fpliif.parser.FACE_MODES`, or face indices ``"0,2"`` (largest first)."""
    value = text.strip().lower()
    if value in FACE_MODES:
        return value
    try:
        indices = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        indices = []
    if not indices or min(indices) < 0:
        raise argparse.ArgumentTypeError(f"expected {', '.join(FACE_MODES)} or face indices such as 0 or 0,2 "
                                         f"(largest face first); got {text!r}")
    return list(dict.fromkeys(indices))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "parse", run,
                    help="parse face images and videos into label maps, colour maps, overlays and masks",
                    description="Parse the faces in images and videos with an FP-LIIF model at any output "
                                "resolution.", epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, folders or glob patterns")
    p.add_argument("--out", "-o", required=True, type=Path, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--recursive", "-r", action="store_true",
                   help="also take images and videos in sub-folders of folder inputs")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=parse_size, metavar="N|HxW",
                      help="output size: N for the longer side (aspect kept) or HxW, at most 8192; default: the "
                           "input size")
    size.add_argument("--scale", type=positive_number, metavar="F",
                      help="output size as F times the input size, e.g. 2 or 0.5")
    p.add_argument("--labels", "-l", metavar="LIST",
                   help="comma-separated labels and groups for the masks, e.g. hair or face,ears")
    p.add_argument("--save", type=kinds_list(SAVE_KINDS, "output kind", allow_none=True), metavar="KINDS",
                   help="comma-separated outputs: " + ", ".join(SAVE_KINDS)
                        + " (default: index,color; plus mask when --labels is given; none: no PNGs)")
    p.add_argument("--soft", action="store_true",
                   help="masks hold the probability (0-255) instead of a hard 0/255 choice")
    f = p.add_argument_group("faces")
    f.add_argument("--faces", type=face_choice, default="auto", metavar="WHICH",
                   help="auto (default), all, largest, none (the whole image as it is) or indices such as 0,2")
    f.add_argument("--min-face-score", type=open_interval(0, 1), metavar="P",
                   help="detection confidence a face needs, between 0 and 1 (default: the detector's, 0.6)")
    f.add_argument("--per-face", action="store_true",
                   help="also write each face's masks alone: NAME_faceK_mask_...png (needs a mask kind in --save)")
    add_model_arguments(p)
    add_device_argument(p)
    add_dtype_argument(p)
    add_tta_argument(p)
    p.add_argument("--batch-size", type=positive_int, default=4, metavar="N",
                   help="images or video frames encoded at once (default: 4)")
    p.add_argument("--max-megapixels", type=positive_number, default=MAX_INPUT_PIXELS / 1e6, metavar="MP",
                   help=f"refuse larger inputs, from their header, before decoding (default: "
                        f"{MAX_INPUT_PIXELS / 1e6:g}, about 1 GB of memory)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="CPU threads for torch (default: torch's choice; 1 is faster on a busy shared CPU)")
    add_video_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    kinds = args.save if args.save is not None else (["index", "color"] + (["mask"] if args.labels else []))
    if "mask" in kinds and not args.labels:
        raise CommandError("--save mask needs --labels (e.g. --labels hair); run `fpliif labels` for the names")
    if args.per_face and not set(kinds) & set(MASK_KINDS):
        raise CommandError("--per-face writes masks: add mask or masks to --save (e.g. --save mask --labels hair)")
    found = collect_inputs(args.inputs, args.recursive, out=args.out)
    if not found.files:
        raise CommandError(f"no images or videos found in {' '.join(args.inputs)}"
                           + "".join(f"; {note}" for note in found.notes))
    plan_outputs(found.files)
    images, sequences = split_inputs(found.files)
    check_sequences(args, kinds, images, sequences)
    check_writable(args.out)
    unreadable = read_sizes(images, sequences, args)  # usage errors raise here; bad inputs are returned
    images, sequences = [f for f in images if f not in unreadable], [f for f in sequences if f not in unreadable]
    parser, jobs = open_parser_and_outputs(args, kinds, found.files, images, sequences)
    for note in [*found.notes, large_output_note(images + sequences, args)]:
        if note:
            print(f"fpliif parse: note: {note}", file=sys.stderr)
    failed = [report(progress_bar(0, True), item.path, ValueError(reason)) for item, reason in unreadable.items()]
    tally = FaceTally()
    try:
        failed += parse_all(parser, images, jobs, args, tally) if images else []
        seq_failed, frames = parse_sequences(parser, sequences, jobs, args, tally)
    except StoppedWriting as e:
        print(f"fpliif parse: stopped: {e}", file=sys.stderr)
        return 1
    failed += seq_failed
    summarise(len(found.files), failed, args.out, time.perf_counter() - started, frames, tally)
    return 1 if failed else 0


def open_parser_and_outputs(args: argparse.Namespace, kinds: list[str], inputs: list[InputFile],
                            images: list[InputFile], sequences: list[InputFile]) -> tuple:
    """The parser (``--model``, ``--faces``, ...), and the output jobs once every output path is checked."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    parser = load_parser(args, faces=args.faces, min_face_score=args.min_face_score)
    selected = parser.label_set.resolve(args.labels) if args.labels else list(range(len(parser.label_set)))
    folder = OutputFolder(args.out, [f.path for f in inputs if f.path.exists()])
    jobs = OutputJobs(folder, kinds, selected, args.labels, args.soft, parser.label_set.names, args.per_face)
    check_targets(jobs, images, sequences, lambda item: video_paths(jobs, item, args.video_out))
    return parser, jobs


class StoppedWriting(Exception):
    """Writing an output failed for a reason no other input can avoid (disk full, permissions): stop the run."""


class FaceTally:
    """How many faces each input had, and which were parsed whole because no face was found."""

    SHOWN = 5  # inputs named one by one in the summary; more are counted

    def __init__(self) -> None:
        self.per_input: dict[Path, list[str]] = {}  # input -> per image or frame: "4", "whole" or "none"

    def add(self, item: InputFile, result, frame: bool = False) -> str | None:
        """Count one result; returns a note for an image (not a frame) where no face was found."""
        if result.faces:
            kind = str(len(result.faces))
        elif result.how.startswith("no face found"):
            kind = "none"
        else:  # --faces none
            kind = "whole"
        self.per_input.setdefault(item.path, []).append(kind)
        return f"{item.path}: {result.how}" if kind == "none" and not frame else None

    def summary(self) -> str | None:
        """``group.png 4, face.png parsed whole, grass.png no face found (parsed the whole image)``; counted
        instead of named beyond :attr:`SHOWN` inputs."""
        if not self.per_input:
            return None
        if len(self.per_input) <= self.SHOWN:
            return ", ".join(f"{path.name} {_describe(kinds)}" for path, kinds in self.per_input.items())
        kinds = [k for ks in self.per_input.values() for k in ks]
        faces = sum(int(k) for k in kinds if k.isdigit())
        counts = {k: kinds.count(k) for k in sorted(set(kinds), key=lambda k: (not k.isdigit(), k.zfill(4)))}
        spread = ", ".join(f"{_KIND_NAMES.get(k, k + ' face(s)')} x{n}" for k, n in counts.items())
        missing = [p.name for p, ks in self.per_input.items() if "none" in ks]
        line = f"{faces} face(s) in {len(kinds)} image(s)/frame(s) ({spread})"
        return line + (f"; no face found, parsed the whole image: {first_few(missing, 5)}" if missing else "")


_KIND_NAMES = {"none": "no face found (parsed whole)", "whole": "parsed whole"}


def _describe(kinds: list[str]) -> str:
    """One input's faces: ``4``, ``parsed whole``, ``no face found (parsed the whole image)``; for frames, counts."""
    if len(kinds) == 1:
        named = {**_KIND_NAMES, "none": "no face found (parsed the whole image)"}
        return named.get(kinds[0], f"{kinds[0]} face(s)")
    faces = sum(int(k) for k in kinds if k.isdigit())
    missing = kinds.count("none")
    return f"{faces} face(s) in {len(kinds)} frames" + (f", no face found in {missing}" if missing else "")


def parse_all(parser, inputs: list[InputFile], jobs: OutputJobs, args: argparse.Namespace,
              tally: FaceTally) -> list[str]:
    """Parse and write every input in batches; returns ``"path: reason"`` for each one that failed."""
    failed: list[str] = []
    bar = progress_bar(len(inputs), args.quiet)
    for start in range(0, len(inputs), args.batch_size):
        batch = inputs[start:start + args.batch_size]
        loaded = []
        for item in batch:
            try:
                loaded.append((item, load_image(item.path, max_pixels(args))))
            except (OSError, ValueError) as e:
                failed.append(report(bar, item.path, e))
        for item, result, error in parse_batch(parser, loaded, args):
            if error is None:
                error = write_outputs(jobs, item, result, bar, tally)
            if error is not None:
                failed.append(report(bar, item.path, error))
        bar.update(len(batch))
    bar.close()
    return failed


def parse_batch(parser, loaded: list, args) -> list[tuple[InputFile, object, Exception | None]]:
    """Parse a batch: ``(item, result, None)`` or ``(item, None, error)``; if the batch fails, retry one by one so
    only the bad image is lost."""
    if not loaded:
        return []
    try:
        results = parser([im for _, im in loaded], size=args.size, scale=args.scale, batch_size=len(loaded))
    except (ValueError, RuntimeError, TypeError) as e:
        if len(loaded) == 1:
            return [(loaded[0][0], None, e)]
        return [one for item in loaded for one in parse_batch(parser, [item], args)]
    return [(item, result, None) for (item, _), result in zip(loaded, results)]


def write_outputs(jobs: OutputJobs, item: InputFile, result, bar, tally: FaceTally) -> Exception | None:
    """Write one input's outputs; a conflict fails this input, any other write error stops the run."""
    try:
        jobs.write(item, result)
    except OutputConflict as e:
        return e
    except OSError as e:
        raise StoppedWriting(f"{e}; the inputs after {item.path} were not parsed") from e
    note = tally.add(item, result)
    if note:
        bar.write(f"fpliif parse: note: {note}", file=sys.stderr)
    return None


def summarise(total: int, failed: list[str], out: Path, seconds: float, frames: int = 0,
              tally: FaceTally | None = None) -> None:
    done = total - len(failed)
    per = f", {seconds / total:.2f} s/{'input' if frames else 'image'}" if total else ""
    video = f" (with {frames} video frames)" if frames else ""
    print(f"fpliif parse: {done} parsed{video}, {len(failed)} failed, outputs in {out} ({seconds:.1f} s{per})",
          file=sys.stderr)
    faces = tally.summary() if tally is not None else None
    if faces:
        print(f"  faces: {faces}", file=sys.stderr)
    for line in failed:
        print(f"  failed: {line}", file=sys.stderr)
