"""Text for messages: lists that name a few items and count the rest."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["first_few"]


def first_few(items: Sequence[object], n: int = 8) -> str:
    """``"a, b, c (+5 more)"``: the first ``n`` items, comma-separated, and how many were left out."""
    shown = ", ".join(map(str, items[:n]))
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")
