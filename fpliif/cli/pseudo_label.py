"""``fpliif pseudo-label``: write a model's confident predictions over unlabelled faces as a training dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data.layouts import LAYOUTS
from . import CommandError
from .arguments import (
    add_command,
    add_device_argument,
    add_model_arguments,
    add_tta_argument,
    load_parser,
    positive_int,
    probability,
)

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  fpliif pseudo-label --model runs/round1/best --images unlabeled-faces --out pseudo/unlabeled
  fpliif pseudo-label --model runs/round1/best --images celeb1k-hair/images \\
      --partial celeb1k-hair --partial-layout hair --out pseudo/hair

The output folder is a dataset in the `folder` layout (images/, masks/, labels.txt) that `fpliif train` and
`fpliif check-data` read. Mask pixels whose top class probability is under --threshold are 255 (ignored in
training). With --partial, the known labels win: hair pixels of the hair mask are hair, and predicted hair
outside it becomes 255.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "pseudo-label", run,
                    help="label unlabelled faces with a trained model (for semi-supervised training)",
                    description="Predict masks for a folder of faces and keep only the confident pixels.",
                    epilog=EPILOG)
    add_model_arguments(p)
    p.add_argument("--images", "-i", required=True, type=Path, metavar="DIR",
                   help="folder of face images (searched recursively)")
    p.add_argument("--out", "-o", required=True, type=Path, metavar="DIR", help="output dataset folder")
    p.add_argument("--partial", type=Path, metavar="DIR", help="dataset of partial labels for the same images")
    p.add_argument("--partial-layout", default="hair", choices=["auto", *LAYOUTS],
                   help="layout of --partial (default: hair)")
    p.add_argument("--threshold", type=probability, default=0.7, metavar="P",
                   help="minimum top-class probability to keep a pixel's label (default: 0.7)")
    p.add_argument("--link-images", action="store_true", help="symlink the images instead of copying them")
    p.add_argument("--batch-size", type=positive_int, default=4, metavar="N", help="images per batch (default: 4)")
    add_device_argument(p)
    add_tta_argument(p)


def run(args: argparse.Namespace) -> int:
    from ..data import open_dataset
    from ..data.pseudo import pseudo_label

    if not args.images.is_dir():
        raise FileNotFoundError(f"--images folder {args.images} does not exist")
    if args.out.resolve() == args.images.resolve():
        raise CommandError("--out must differ from --images (the output gets its own images/ and masks/)")
    check_out(args.out)
    parser = load_parser(args)
    partial = None
    if args.partial is not None:
        partial = open_dataset(args.partial, split=None, size=None, label_names=parser.label_set.names,
                               layout=args.partial_layout)
    stats = pseudo_label(parser, args.images, args.out, partial=partial, threshold=args.threshold,
                         batch_size=args.batch_size, link_images=args.link_images, progress=_printer())
    print(f"wrote {stats.images} masks to {args.out / 'masks'}; {100 * stats.kept_fraction:.1f}% of pixels kept "
          f"a label at threshold {args.threshold}")
    print(f"it is a folder-layout dataset: fpliif check-data {args.out}")
    return 0


def check_out(out: Path) -> None:
    """``--out`` must be new, empty, or an earlier pseudo-label output (its ``pseudo_label.json`` says so): masks and
    images are written over, and a real dataset must never be."""
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; give a folder for the pseudo-labelled dataset")
    if out.is_dir() and any(out.iterdir()) and not (out / "pseudo_label.json").is_file():
        raise CommandError(f"--out {out} already holds files and is not an earlier pseudo-label output (no "
                           "pseudo_label.json); its masks would be replaced: give a new or empty folder")


def _printer():
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\rpseudo-labelled {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return show
