"""Text normalisation and text-quality detectors, as polars expressions.

Shared by the EDA report (which counts what it finds) and cleaning (which fixes or removes it), so
that "a duplicate" or "a text with HTML" means the same thing in both. Every detector is a
vectorised expression over a string column: no Python loop touches the rows.

Example::

    frame.select(normalized(pl.col("text")).is_duplicated().sum())
    checks = {name: check.expr(pl.col("text")).sum() for name, check in QUALITY_CHECKS.items()}
    frame.select(**checks)
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

__all__ = ["QUALITY_CHECKS", "QualityCheck", "is_blank", "normalized"]

HTML_TAG = r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>"
HTML_ENTITY = r"&(?:[a-zA-Z]{2,8}|#[0-9]{1,6}|#x[0-9a-fA-F]{1,6});"
URL = r"(?i)\b(?:https?://|www\.)[^\s<>\"']+"
EMAIL = r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b"
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# UTF-8 read as Latin-1/cp1252: 'Ã©' for 'é', 'â€™' for '’', 'Â ' for a no-break space; U+FFFD.
MOJIBAKE = (
    "Ã[\u0080-\u00bf]"
    "|â€[\u0080-\u00bf\u2018-\u201e\u2122\u0153\u201a\u0161\u2020\u2039]"
    "|Â[\u00a0-\u00bf]"
    "|\ufffd"
)
NON_ASCII = r"[^\x00-\x7f]"
# The regex engine has no back-references, so a character repeated 4+ times is spelled out.
REPEATED = "|".join(f"{re.escape(char)}{{4,}}" for char in string.ascii_lowercase + "!?.")


def normalized(text: pl.Expr) -> pl.Expr:
    """The text for near-duplicate detection: lower-cased, HTML tags and entities, punctuation
    and repeated whitespace removed. Two texts that differ only in those are the same text."""
    return (
        text.fill_null("")
        .str.to_lowercase()
        .str.replace_all(HTML_TAG, " ")
        .str.replace_all(HTML_ENTITY, " ")
        .str.replace_all(r"[^\w\s]", "")
        # what r"\s+" → " " does, 4× faster: single spaces, the most of them, are left alone
        .str.replace_all(r"\s{2,}|[^\S ]", " ")
        .str.strip_chars()
    )


def is_blank(text: pl.Expr) -> pl.Expr:
    """Missing, empty or whitespace-only."""
    return text.is_null() | (text.str.strip_chars() == "")


@dataclass(frozen=True)
class QualityCheck:
    """A named problem a text can have: what it means and how to detect it."""

    description: str
    expr: Callable[[pl.Expr], pl.Expr]


def _all_caps(text: pl.Expr) -> pl.Expr:
    return text.str.contains(r"\p{Lu}.*\p{Lu}.*\p{Lu}") & ~text.str.contains(r"\p{Ll}")


QUALITY_CHECKS: dict[str, QualityCheck] = {
    "html": QualityCheck(
        "HTML tags or entities (<br />, &amp;)",
        lambda t: t.str.contains(HTML_TAG) | t.str.contains(HTML_ENTITY),
    ),
    "url": QualityCheck("web addresses", lambda t: t.str.contains(URL)),
    "email": QualityCheck("e-mail addresses", lambda t: t.str.contains(EMAIL)),
    "control": QualityCheck(
        "control characters (other than tab and newline)", lambda t: t.str.contains(CONTROL)
    ),
    "mojibake": QualityCheck(
        "mojibake: UTF-8 decoded as Latin-1 (Ã©, â€™) or replacement characters",
        lambda t: t.str.contains(MOJIBAKE),
    ),
    "non_ascii": QualityCheck(  # in UTF-8, exactly the texts with more bytes than characters
        "characters outside ASCII", lambda t: t.str.len_bytes() != t.str.len_chars()
    ),
    "all_caps": QualityCheck("written in capitals only (3+ letters, no lower case)", _all_caps),
    "repeated_chars": QualityCheck(
        "a letter or !?. repeated 4+ times (sooooo, !!!!)",
        lambda t: t.str.to_lowercase().str.contains(REPEATED),
    ),
}
