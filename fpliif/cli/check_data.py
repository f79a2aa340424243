"""``fpliif check-data``: find a dataset's problems by file name before training, and show class frequencies."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data.layouts import LAYOUTS
from .arguments import add_command

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  fpliif check-data celebamask-mini
  fpliif check-data my-faces/ --split train
  fpliif check-data CelebAMask-HQ/ --layout celebamask-hq --json report.json

layouts (auto-detected from the folder):
  folder         images/<id>.jpg + masks/<id>.png (class ids), optional splits.json and labels.txt
  celebamask-hq  CelebA-HQ-img/ + CelebAMask-HQ-mask-anno/<k>/<id>_<part>.png + CelebA-HQ-to-CelebA-mapping.txt
  lapa           train|val|test/images/*.jpg + labels/*.png
  hair           images/<id>.jpg + hair/<id>.png (255 = hair): partial labels
  images         any folder of images (no labels; only readability is checked)

Exit status: 0 when no problems were found, 1 otherwise.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "check-data", run,
                    help="check a dataset: missing pairs, size mismatches, bad mask values, class frequencies",
                    description="Read every image and mask of a dataset and report each problem with its file name.",
                    epilog=EPILOG)
    p.add_argument("path", type=Path, metavar="DIR", help="dataset folder")
    p.add_argument("--layout", default="auto", choices=["auto", *LAYOUTS], help="dataset layout (default: auto)")
    p.add_argument("--split", default="all", help="split to check (default: all samples)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    p.add_argument("--max-problems", type=int, default=50, metavar="N",
                   help="problems printed (all are in --json; default: 50)")


def run(args: argparse.Namespace) -> int:
    from ..data.check import check_dataset

    split = None if args.split == "all" else args.split
    report = check_dataset(args.path, layout=args.layout, split=split, progress=_progress_printer())
    print(f"{args.path}: {report.layout} layout, split {args.split}, {report.samples} samples, "
          f"{len(report.problems)} problem(s)")
    sizes = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sorted(report.sizes.items(), key=lambda x: -x[1])[:5])
    if sizes:
        print(f"image sizes: {sizes}")
    if report.names:
        print(report.frequency_table())
    for line in report.problems[: args.max_problems]:
        print(f"problem: {line}")
    if len(report.problems) > args.max_problems:
        print(f"... and {len(report.problems) - args.max_problems} more (use --json FILE for all)")
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if report.ok else 1


def _progress_printer():
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            end = "\n" if done == total else ""
            print(f"\rchecked {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
