"""Progress for the command line: a tqdm bar on stderr, or a silent stand-in when tqdm is absent."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["progress_bar", "report"]


def progress_bar(total: int | None, quiet: bool, unit: str = "img", desc: str | None = None):
    """A tqdm bar on stderr (or a silent stand-in with the same methods); ``total=None`` when unknown."""
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with huggingface_hub, but the CLI must not depend on it
        tqdm = None
    if tqdm is not None:
        return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, disable=quiet, dynamic_ncols=True)
    return _Silent()


def report(bar, path: Path, error: Exception, command: str = "parse") -> str:
    """Print ``fpliif COMMAND: failed: PATH: reason`` above the bar; returns the ``PATH: reason`` line."""
    line = str(error) if str(path) in str(error) else f"{path}: {error}"
    bar.write(f"fpliif {command}: failed: {line}")
    return line


class _Silent:
    def update(self, n: int) -> None:
        pass

    def write(self, line: str) -> None:
        print(line, file=sys.stderr)

    def close(self) -> None:
        pass
