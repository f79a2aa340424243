"""Arguments several subcommands share: the model, the device and precision, output sizes; and loading the model."""

from __future__ import annotations

import argparse
import math

from ..device import DEVICE_CHOICES, DTYPE_CHOICES, resolve_device, resolve_dtype
from ..models.flip import TTA_MODES
from ..parser import MAX_SIDE as MAX_OUTPUT_SIDE
from ..pretrained import DEFAULT_PRETRAINED, list_pretrained
from . import CommandError

__all__ = ["add_command", "kinds_list", "add_model_arguments", "add_device_argument", "add_dtype_argument",
           "parse_size", "positive_int", "positive_number", "probability", "open_interval", "load_model", "load_parser",
           "MAX_OUTPUT_SIDE"]


def add_command(subparsers: argparse._SubParsersAction, name: str, run, help: str, description: str,
                epilog: str | None = None) -> argparse.ArgumentParser:
    """The subcommand ``name``, which calls ``run(args)``; ``epilog`` (examples) is printed as written."""
    p = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(run=run)
    return p


def add_model_arguments(p: argparse.ArgumentParser, default: str | None = DEFAULT_PRETRAINED) -> None:
    """``--model`` (pretrained name, folder or Hub repo id) and ``--revision``; ``default`` is for the help."""
    p.add_argument("--model", "-m", default=None, metavar="NAME|PATH|REPO",
                   help=f"pretrained weights ({', '.join(list_pretrained())}), a model folder or .safetensors "
                        "file, or a Hugging Face repo id user/name[@revision]"
                        + (f" (default: {default})" if default else ""))
    p.add_argument("--revision", help="Hub branch, tag or commit of --model (pin a commit for reproducibility)")


def add_device_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", type=device_name, metavar="DEVICE",
                   help=f"{', '.join(DEVICE_CHOICES)} or cuda:N (default: auto = cuda, then mps, then cpu)")


def device_name(text: str) -> str:
    """A ``--device`` value that names a device (whether it is available is checked when the model loads)."""
    kind, _, index = text.partition(":")
    if kind not in DEVICE_CHOICES or (index and (kind != "cuda" or not index.isdigit())):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    return text


def add_dtype_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES,
                   help="precision of the network (default float32; auto = float16 on CUDA, float32 elsewhere)")


def add_tta_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tta", default="none", choices=TTA_MODES,
                   help="test-time augmentation: flip also parses each face mirrored and averages the "
                        "probabilities (+0.2 to +0.5 val mean F1 measured, twice the network time; default none)")


def parse_size(text: str) -> int | tuple[int, int]:
    """``"512"`` -> 512 (longer side); ``"480x640"`` -> (480, 640) as height x width; at most
    :data:`MAX_OUTPUT_SIDE` a side."""
    try:
        parts = [int(v) for v in text.lower().replace("*", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(
            f"size must be N or HxW with positive integers, e.g. 512 or 480x640; got {text!r}")
    if max(parts) > MAX_OUTPUT_SIDE:
        raise argparse.ArgumentTypeError(
            f"size {text} is over the {MAX_OUTPUT_SIDE} px limit on a side; give at most {MAX_OUTPUT_SIDE}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """A finite number > 0 (``inf`` and ``nan`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, e.g. 2 or 0.5; got {text!r}")
    return value


def probability(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, got {text!r}")
    return value


def open_interval(low: float, high: float):
    """An argparse type: a number strictly between ``low`` and ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"expected a number between {low:g} and {high:g}, got {text!r}")
        return value

    return parse


def kinds_list(choices: dict[str, str], what: str, allow_none: bool = False):
    """An argparse type: a comma-separated list of ``choices`` keys -> the list, in order, without repeats
    (``"none"`` -> ``[]`` with ``allow_none``)."""

    def parse(text: str) -> list[str]:
        kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
        if allow_none and kinds == ["none"]:
            return []
        unknown = [k for k in kinds if k not in choices]
        if unknown or not kinds:
            raise argparse.ArgumentTypeError(f"unknown {what} {unknown or text!r}; choose from {', '.join(choices)}")
        return list(dict.fromkeys(kinds))

    return parse


def load_model(args: argparse.Namespace, device="cpu"):
    """The model ``--model``/``--revision`` name, on ``device``; a Hub or network failure is a CommandError."""
    from ..hub import from_pretrained

    try:
        return from_pretrained(args.model, revision=args.revision, device=device)
    except FileNotFoundError:
        raise
    except (OSError, ConnectionError) as e:  # network and Hub HTTP errors (e.g. a gated or private repo)
        raise CommandError(f"could not load model {args.model!r}: {e}") from e


def load_parser(args: argparse.Namespace, min_face_score: float | None = None, **kwargs):
    """A :class:`~fpliif.FaceParser` on ``--model``, ``--device`` and (where the command has it) ``--dtype``;
    ``min_face_score``: the shipped face detector with that confidence threshold."""
    from ..parser import FaceParser

    device = resolve_device(args.device)
    dtype = resolve_dtype(getattr(args, "dtype", "float32"), device)
    if min_face_score is not None:
        kwargs["detector"] = face_detector(device, min_face_score)
    return FaceParser(load_model(args), device=device, dtype=dtype, tta=getattr(args, "tta", "none"), **kwargs)


def face_detector(device, min_score: float):
    """The shipped face detector, keeping faces at least ``min_score`` confident."""
    from dataclasses import replace

    from ..detect import FaceDetector

    shipped = FaceDetector.from_pretrained(device=device)
    return FaceDetector(shipped.net, replace(shipped.cfg, min_score=min_score))
