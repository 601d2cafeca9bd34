"""Counted words for the one-line summaries that results render (and the CLI prints)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` (with thousands separators) and ``word``, plural unless ``n`` is 1.

    ``plural(1, "row") == "1 row"``, ``plural(2500, "row") == "2,500 rows"``; ``words`` gives an
    irregular plural (``plural(2, "was", "were")``).
    """
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
