"""Message helpers (fpliif/text.py)."""

from fpliif.text import first_few


def test_first_few_counts_the_rest():
    assert first_few(["a", "b"]) == "a, b"
    assert first_few(list(range(10)), 3) == "0, 1, 2 (+7 more)"
