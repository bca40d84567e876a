"""Parsing each feed's time format to naive UTC, as polars expressions (unparseable -> null)."""

from __future__ import annotations

import polars as pl


def _naive(expr: pl.Expr) -> pl.Expr:
    return expr.dt.replace_time_zone(None)


def iso8601(expr: pl.Expr, naive_is_utc: bool = True) -> pl.Expr:
    """ISO 8601 date-times: `2024-01-15T10:30:00.000+0000`, `...Z`, `...-05:00`, a space instead of T,
    optional seconds and fractions; without an offset the time is taken as UTC when `naive_is_utc`."""
    text = expr.str.strip_chars()
    tries = [
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC"),
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC"),
        text.str.to_datetime("%Y-%m-%dT%H:%M%#z", strict=False, time_unit="us", time_zone="UTC"),
    ]
    if naive_is_utc:
        tries += [
            text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone("UTC"),
            text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone("UTC"),
        ]
    return _naive(pl.coalesce(tries))


def rfc2822(expr: pl.Expr) -> pl.Expr:
    """RFC 2822 (`Thu, 24 Aug 2023 05:01:45 +0000`, the weekday optional)."""
    text = expr.str.strip_chars()
    return _naive(
        pl.coalesce(
            text.str.to_datetime("%a, %d %b %Y %H:%M:%S %z", strict=False, time_unit="us", time_zone="UTC"),
            text.str.to_datetime("%d %b %Y %H:%M:%S %z", strict=False, time_unit="us", time_zone="UTC"),
        )
    )


def rfc2822_or_iso(expr: pl.Expr) -> pl.Expr:
    return pl.coalesce(rfc2822(expr), iso8601(expr))


def utc_text(expr: pl.Expr) -> pl.Expr:
    """`YYYY-MM-DD HH:MM:SS`, already UTC (Mailchimp)."""
    return expr.str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")


def epoch_seconds(expr: pl.Expr) -> pl.Expr:
    """Unix epoch seconds given as a number or as text."""
    seconds = expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.from_epoch((seconds * 1_000_000).round().cast(pl.Int64, strict=False), time_unit="us")


def ddmmyyyy(expr: pl.Expr) -> pl.Expr:
    """A day as `DDMMYYYY`: 00:00 UTC of that day (day precision)."""
    return expr.str.strip_chars().str.to_datetime("%d%m%Y", strict=False, time_unit="us")


def local_wall_clock(frame: pl.DataFrame, local: str, tz: str, out: str) -> pl.DataFrame:
    """Convert naive local times in column `local` to naive UTC, each row in the IANA zone named by `tz`.

    Ambiguous times (the hour repeated when clocks go back) take the earlier instant; times that do not
    exist (the hour skipped when clocks go forward) are read as if the clock had not yet changed.
    One pass per distinct zone, not per row.
    """
    parts = []
    for zone in frame.get_column(tz).unique().to_list():
        part = frame.filter(pl.col(tz) == zone) if zone is not None else frame.filter(pl.col(tz).is_null())
        if zone is None:
            parts.append(part.with_columns(pl.lit(None, pl.Datetime("us")).alias(out)))
            continue
        try:
            t = pl.col(local)
            as_is = t.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            shifted = (t + pl.duration(hours=1)).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            # t + 1h read after the change is the same instant as t read before it
            utc = pl.coalesce(as_is.dt.convert_time_zone("UTC"), shifted.dt.convert_time_zone("UTC"))
            parts.append(part.with_columns(utc.dt.replace_time_zone(None).alias(out)))
        except pl.exceptions.PolarsError:  # an unknown zone name: no time
            parts.append(part.with_columns(pl.lit(None, pl.Datetime("us")).alias(out)))
    if not parts:
        return frame.with_columns(pl.lit(None, pl.Datetime("us")).alias(out))
    return (
        pl.concat(parts, how="vertical").sort("source_record") if "source_record" in frame.columns else pl.concat(parts)
    )
