import polars as pl
import pytest

from modelcycle.text import QUALITY_CHECKS, is_blank, normalized

TEXTS = [
    "Great film!<br /><br />Loved it.",
    "great film loved it",
    "See https://example.com/x?y=1 now",
    "mail me: ann.lee+x@mail.example.org",
    "bell\x07 here",
    "cafÃ© was nice",
    "naïve",
    "THIS IS AWFUL",
    "sooooo good!!!!",
    "  ",
    None,
    "fish &amp; chips",
]


def flags(name: str) -> list[bool | None]:
    frame = pl.DataFrame({"t": TEXTS}, schema={"t": pl.String})
    return frame.select(QUALITY_CHECKS[name].expr(pl.col("t"))).to_series().to_list()


@pytest.mark.parametrize(
    ("name", "hits"),
    [
        ("html", {0, 11}),
        ("url", {2}),
        ("email", {3}),
        ("control", {4}),
        ("mojibake", {5}),
        ("non_ascii", {5, 6}),
        ("all_caps", {7}),
        ("repeated_chars", {8}),
    ],
)
def test_each_check_flags_exactly_its_examples(name: str, hits: set[int]) -> None:
    assert {i for i, flag in enumerate(flags(name)) if flag} == hits


def test_normalized_makes_near_duplicates_equal() -> None:
    spaced = [
        "Great   FILM... loved it!",
        " great\tfilm\r\n\r\nloved\u00a0it ",
        "great film\nloved it",
    ]
    frame = pl.DataFrame({"t": [*TEXTS[:2], *spaced]})
    values = frame.select(normalized(pl.col("t"))).to_series().to_list()
    assert values == ["great film loved it"] * 5


def test_is_blank() -> None:
    frame = pl.DataFrame({"t": TEXTS}, schema={"t": pl.String})
    blank = frame.select(is_blank(pl.col("t"))).to_series().to_list()
    assert [i for i, b in enumerate(blank) if b] == [9, 10]
