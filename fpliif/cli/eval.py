"""``fpliif eval``: the paper's tables (F1 and IoU per class, mean F1, mIoU) for a model on a dataset split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data.layouts import LAYOUTS
from .arguments import add_command, add_device_argument, add_model_arguments, add_tta_argument, load_model, positive_int

__all__ = ["add_parser", "run", "parse_sides"]

EPILOG = """\
examples:
  fpliif eval --model runs/celeba/best --data celebamask-mini
  fpliif eval --data DATA --output-size 512 --low-res 64,96,128,192 --json scores.json   # the default weights
  fpliif eval --model user/fpliif-lapa --data LaPa/ --split test --device cuda
  fpliif eval --data DATA --tta flip          # each face also mirrored, probabilities averaged

Counts are accumulated over the whole split; the means leave out the background and classes absent from both
the ground truth and the predictions (n/a). Ground truth is resized nearest to each output size.
"""


def parse_sides(text: str) -> list[int]:
    """``"64,96,128"`` -> ``[64, 96, 128]``."""
    try:
        sides = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 64,96,128, got {text!r}") from None
    if any(s < 1 for s in sides):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return sides


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "eval", run,
                    help="score a model on a labelled dataset (F1, IoU, mean F1, mIoU)",
                    description="Evaluate a model on a dataset split and print the per-class F1 and IoU tables.",
                    epilog=EPILOG)
    add_model_arguments(p)
    p.add_argument("--data", "-d", required=True, type=Path, metavar="DIR", help="dataset folder")
    p.add_argument("--layout", default="auto", choices=["auto", *LAYOUTS],
                   help="dataset layout (default: auto-detect); see fpliif check-data --help")
    p.add_argument("--split", default="val", help="split to score (default: val; 'all' for every sample)")
    p.add_argument("--size", type=positive_int, default=None, metavar="S",
                   help="network input side (default: the model's input size, 256 for the paper's models)")
    p.add_argument("--output-size", type=positive_int, default=None, metavar="N",
                   help="also score the output queried at N x N from the same input (the paper's 512 rows)")
    p.add_argument("--low-res", type=parse_sides, default=[], metavar="LIST",
                   help="also score outputs at these sides upsampled bilinearly to S, e.g. 64,96,128,192")
    p.add_argument("--limit", type=positive_int, metavar="N", help="score only the first N images (a quick check)")
    p.add_argument("--batch-size", type=positive_int, default=4, metavar="N", help="images per batch (default: 4)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="data-loading processes (default: 0)")
    add_device_argument(p)
    add_tta_argument(p)
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the scores as JSON ('-' for stdout only)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..evaluate import evaluate_dataset
    from ..models.flip import with_tta
    from ..pretrained import DEFAULT_PRETRAINED

    device = resolve_device(args.device)
    if not args.data.is_dir():
        raise FileNotFoundError(f"dataset folder {args.data} does not exist")
    model = with_tta(load_model(args, device), args.tta)
    size = args.size or model.cfg.input_size
    split = None if args.split == "all" else args.split
    report = evaluate_dataset(model, args.data, split=split, size=size, output_size=args.output_size,
                              low_res=args.low_res, batch_size=args.batch_size, layout=args.layout, device=device,
                              num_workers=args.workers, progress=not args.quiet and sys.stderr.isatty(),
                              limit=args.limit)
    name = str(args.model or DEFAULT_PRETRAINED)
    report.extra["model"] = name
    if args.tta != "none":
        report.extra["tta"] = args.tta
    if str(args.json) == "-":
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    tta = f", {args.tta} test-time augmentation" if args.tta != "none" else ""
    print(f"{name} on {args.data} ({args.split}, {report.num_images} images, input {size}x{size}{tta}); "
          "F1 and IoU in %, background ignored")
    print(report.table())
    if args.json:
        report.save_json(args.json)
        print(f"wrote {args.json}")
    return 0
