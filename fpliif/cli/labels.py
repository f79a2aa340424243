"""``fpliif labels``: the label sets, their class ids, colours and groups (the names ``--labels`` accepts)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..labels import LABEL_SETS, LabelSet, get_label_set, hex_color
from .arguments import add_command, add_model_arguments

__all__ = ["add_parser", "run", "format_label_set"]

EPILOG = """\
examples:
  fpliif labels                      # every built-in label set
  fpliif labels celebamask-hq        # one set
  fpliif labels --model runs/best    # the labels of a model (pretrained name, folder or Hub repo)
  fpliif labels lapa --json          # machine-readable

Give label and group names (or ids) to `fpliif parse --labels`, e.g. --labels hair or --labels face,ears.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "labels", run,
                    help="list label sets: class ids, names, colours and groups",
                    description="Show the classes (id, name, colour) and named groups of the label sets.",
                    epilog=EPILOG)
    p.add_argument("label_set", nargs="?", metavar="SET",
                   help=f"a built-in label set: {', '.join(LABEL_SETS)} (default: all)")
    add_model_arguments(p, default=None)  # without --model: the built-in label sets
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour chips beside each class (auto: when stdout is a terminal and NO_COLOR is unset)")


def run(args: argparse.Namespace) -> int:
    if args.model and args.label_set:
        raise ValueError("give a label set name or --model, not both")
    if args.model:
        sets = [model_label_set(args.model, args.revision)]
    elif args.label_set:
        sets = [get_label_set(args.label_set)]
    else:
        sets = list(LABEL_SETS.values())
    if args.json:
        print(json.dumps([label_set_dict(s) for s in sets], indent=2))
    else:
        chips = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                           and not os.environ.get("NO_COLOR"))
        print("\n\n".join(format_label_set(s, chips) for s in sets))
    return 0


def model_label_set(name_or_path: str, revision: str | None) -> LabelSet:
    """The label set in a model's ``config.json`` (no weights are loaded)."""
    from ..config import FPLIIFConfig
    from ..hub import locate_model

    return FPLIIFConfig.load(locate_model(name_or_path, revision).config).labels


def label_set_dict(labels: LabelSet) -> dict:
    return {
        "name": labels.name,
        "labels": [{"id": i, "name": n, "display": d, "color": c}
                   for i, (n, d, c) in enumerate(zip(labels.names, labels.display_names, labels.hex_colors))],
        "groups": {g: list(members) for g, members in labels.groups.items()},
    }


def format_label_set(labels: LabelSet, chips: bool = False) -> str:
    """A readable table: one class per line (id, name for ``--labels``, what it is, colour), then the groups and
    their members; ``chips`` draws each colour as a 24-bit ANSI block."""
    width = max(len(n) for n in labels.names)
    shown = max(len(d) for d in labels.display_names)
    lines = [f"{labels.name} ({len(labels)} classes)", f"  {'id':>3}  {'name':<{width}}  {'what':<{shown}}  colour"]
    for i, (name, display, color) in enumerate(zip(labels.names, labels.display_names, labels.colors)):
        chip = f"\033[48;2;{color[0]};{color[1]};{color[2]}m  \033[0m " if chips else ""
        lines.append(f"  {i:>3}  {name:<{width}}  {display:<{shown}}  {chip}{hex_color(color)}  rgb{tuple(color)}")
    if labels.groups:
        gwidth = max(len(g) for g in labels.groups)
        lines.append("  groups:")
        lines += [f"    {g:<{gwidth}}  {', '.join(m)}" for g, m in labels.groups.items()]
    return "\n".join(lines)
