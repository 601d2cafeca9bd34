"""Text fixes: mojibake, HTML tags and entities, Unicode NFC, control characters, whitespace."""

from __future__ import annotations

import html
from collections.abc import Callable

import polars as pl

from modelcycle.cleaning._columns import FIXES
from modelcycle.config import CleanConfig
from modelcycle.text import CONTROL, HTML_ENTITY, HTML_TAG, QUALITY_CHECKS

TEXT_FIXES = ("mojibake", "html", "unicode", "control", "whitespace")


def fix_texts(texts: pl.Series, config: CleanConfig | None = None) -> tuple[pl.Series, pl.Series]:
    """Apply the text fixes of ``config`` to ``texts``; returns the fixed texts and, per text,
    the fixes that changed it joined by ``+`` (``"html+whitespace"``; null when none did).

    Vectorised: a Python function only runs on the texts a detector flags (ftfy on suspected
    mojibake, :func:`html.unescape` on texts with entities), so clean text costs no Python loop.
    """
    config = config or CleanConfig()
    current = texts.cast(pl.String)
    changed: dict[str, pl.Series] = {}

    def step(name: str, fixed: pl.Series) -> None:
        nonlocal current
        changed[name] = (fixed != current).fill_null(False)
        current = fixed

    if config.mojibake:
        step("mojibake", _apply_where(current, QUALITY_CHECKS["mojibake"].expr, _fix_encoding))
    if config.html:
        # A run of tags and the spaces around it becomes one space: "it.<br /><br />The".
        tagged = current.str.contains(HTML_TAG).fill_null(False)
        replaced = current.str.replace_all(rf"\s*(?:{HTML_TAG}\s*)+", " ").str.strip_chars()
        without_tags = pl.select(pl.when(tagged).then(replaced).otherwise(current)).to_series()
        step("html", _apply_where(without_tags, lambda t: t.str.contains(HTML_ENTITY), _unescape))
    if config.unicode:
        step("unicode", current.str.normalize("NFC"))
    if config.control:
        step("control", current.str.replace_all(CONTROL, ""))
    if config.whitespace:
        step(
            "whitespace",
            current.str.replace_all(r"[^\S\n]+", " ")
            .str.replace_all(r"\s*\n\s*", "\n")
            .str.strip_chars(),
        )
    if not changed:
        return current, pl.Series(FIXES, [None] * len(current), dtype=pl.String)
    flags = pl.DataFrame(changed)
    fixes = flags.select(
        pl.concat_str(
            [pl.when(pl.col(name)).then(pl.lit(name)) for name in changed],
            separator="+",
            ignore_nulls=True,
        ).alias(FIXES)
    ).to_series()
    return current, fixes.replace("", None)


def _apply_where(
    texts: pl.Series, detector: Callable[[pl.Expr], pl.Expr], fix: Callable[[str], str]
) -> pl.Series:
    """Apply the Python function ``fix`` to the texts ``detector`` flags, and only to those."""
    flags = texts.to_frame("t").select(detector(pl.col("t")).fill_null(False)).to_series()
    positions = flags.arg_true()
    if positions.len() == 0:
        return texts
    fixed = [fix(value) for value in texts.gather(positions).to_list()]
    result = texts.clone()
    result.scatter(positions, pl.Series(fixed, dtype=pl.String))
    return result


def _fix_encoding(text: str) -> str:
    # deferred for start-up time: ftfy's import (70 ms) is paid only when a text looks broken
    import ftfy

    return str(ftfy.fix_encoding(text))


def _unescape(text: str) -> str:
    return html.unescape(text)
