"""Filling the gaps of numeric feature columns (never of texts or labels)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from modelcycle.cleaning._columns import NUM, REASON
from modelcycle.config import CleanConfig


@dataclass
class NumericColumns:
    """Which columns hold numbers (typed numeric, or text that is all numbers, as CSV reads)."""

    text: str
    label: str
    candidates: dict[str, bool] = field(default_factory=dict)

    def values(self, batch: pl.DataFrame) -> list[pl.Expr]:
        exprs = []
        for name, dtype in batch.schema.items():
            if name in (self.text, self.label) or name.startswith("__"):
                continue
            if dtype.is_numeric():
                self.candidates.setdefault(name, True)
                exprs.append(pl.col(name).cast(pl.Float64).fill_nan(None).alias(NUM + name))
            elif dtype == pl.String:
                column = batch.get_column(name)
                present = column.str.strip_chars().replace("", None)
                parsed = present.cast(pl.Float64, strict=False)
                numeric = int(parsed.null_count()) == int(present.null_count())
                self.candidates[name] = self.candidates.get(name, True) and numeric
                exprs.append(
                    pl.col(name).str.strip_chars().cast(pl.Float64, strict=False).alias(NUM + name)
                )
        return exprs

    def columns(self) -> list[str]:
        return [name for name, ok in self.candidates.items() if ok]


def fill_values(
    keys: pl.DataFrame,
    decisions: pl.DataFrame,
    config: CleanConfig,
    numeric: NumericColumns | None,
) -> dict[str, str]:
    """The value to fill each numeric column's gaps with (as it will be written), by column."""
    if numeric is None or config.fill is None:
        return {}
    kept = keys.filter(decisions.get_column(REASON).is_null())
    values: dict[str, str] = {}
    for column in numeric.columns():
        series = kept.get_column(NUM + column)
        if series.null_count() == 0:
            continue
        present = series.drop_nulls()
        if config.fill == "median":
            value = present.median()
        elif config.fill == "mean":
            value = present.mean()
        elif config.fill == "zero":
            value = 0.0
        else:
            value = float(config.fill)
        if not isinstance(value, int | float):
            continue
        number = float(value)
        values[column] = str(int(number)) if number.is_integer() else repr(number)
    return values


def filled(dtype: pl.DataType, column: str, value: str) -> pl.Expr:
    if dtype == pl.String:
        blank = pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        return pl.when(blank).then(pl.lit(value)).otherwise(pl.col(column))
    number = float(value)
    if dtype.is_float():
        return pl.col(column).fill_nan(None).fill_null(number)
    if number.is_integer():
        return pl.col(column).fill_null(pl.lit(int(number)).cast(dtype))
    return pl.col(column).cast(pl.Float64).fill_null(number)


def is_missing(dtype: pl.DataType, column: str) -> pl.Expr:
    if dtype == pl.String:
        return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
    if dtype.is_float():
        return pl.col(column).is_null() | pl.col(column).is_nan()
    return pl.col(column).is_null()
