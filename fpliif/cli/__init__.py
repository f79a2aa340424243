"""The ``fpliif`` command line: one module per subcommand, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

__all__ = ["main"]

# Subcommand name -> module in this package. Each module defines add_parser(subparsers) and run(args) -> int.
COMMANDS: dict[str, str] = {
    "parse": "parse",
    "labels": "labels",
    "train": "train",
    "eval": "eval",
    "check-data": "check_data",
    "pseudo-label": "pseudo_label",
    "export": "export",
    "demo": "demo",
    "push": "push",
}


EPILOG = """\
examples:
  fpliif parse face.jpg --out parsed/                       # label map + colour map at the image's size
  fpliif parse photos/ -r --out parsed/ --size 1024 --save index,overlay
  fpliif parse face.jpg --out masks/ --labels hair --save mask --soft
  fpliif labels                                             # label and group names for --labels

Run `fpliif COMMAND --help` for each command's options.
"""


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpliif",
        description="FP-LIIF face parsing: label every pixel of a face (skin, eyes, brows, lips, hair, ...) "
                    "at any output resolution.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fpliif {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        mod = importlib.import_module(f".{module}", __name__)
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (CommandError, FileNotFoundError, ValueError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"fpliif {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fpliif {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
