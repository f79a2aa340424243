"""Progress for the command line: a tqdm bar on stderr, and failure lines printed above it."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

__all__ = ["progress_bar", "report"]


def progress_bar(total: int | None, quiet: bool, unit: str = "img", desc: str | None = None) -> tqdm:
    """A tqdm bar on stderr (hidden with ``quiet``); ``total=None`` when unknown."""
    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, disable=quiet, dynamic_ncols=True)


def report(bar: tqdm, path: Path, error: Exception, command: str = "parse") -> str:
    """Print ``fpliif COMMAND: failed: PATH: reason`` above the bar; returns the ``PATH: reason`` line."""
    line = str(error) if str(path) in str(error) else f"{path}: {error}"
    bar.write(f"fpliif {command}: failed: {line}", file=sys.stderr)
    return line
