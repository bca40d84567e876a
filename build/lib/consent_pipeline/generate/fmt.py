"""Vectorised formatting helpers: times in each vendor's format, JSON text, ids, money.

Times are carried as int64 Unix seconds (UTC) and only turned into text when a file is written.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

DAY = 86_400
HOUR = 3_600


def ts(col: str | pl.Expr) -> pl.Expr:
    """Unix seconds -> naive UTC datetime."""
    return pl.from_epoch(pl.col(col) if isinstance(col, str) else col, time_unit="s")


def strftime(col: str | pl.Expr, fmt: str) -> pl.Expr:
    return ts(col).dt.strftime(fmt)


ISO_Z = "%Y-%m-%dT%H:%M:%SZ"
ISO_MS_Z = "%Y-%m-%dT%H:%M:%S.000Z"
SF_OFFSET = "%Y-%m-%dT%H:%M:%S.000+0000"  # Salesforce Data Loader
SPACE_UTC = "%Y-%m-%d %H:%M:%S"  # Mailchimp
RFC2822_UTC = "%a, %d %b %Y %H:%M:%S +0000"  # Twilio Console


def local(frame: pl.DataFrame, ts_col: str, zone_col: str, fmt: str) -> pl.Series:
    """Each row's time on the wall clock of its own IANA zone (DST included), formatted with `fmt`
    (`%z` / `%:z` give the offset). One pass per distinct zone."""
    out = pl.repeat(None, frame.height, dtype=pl.String, eager=True)
    zones = frame.get_column(zone_col)
    for zone in sorted(z for z in zones.unique().to_list() if z is not None):
        rows = np.flatnonzero((zones == zone).to_numpy())
        part = frame.get_column(ts_col).gather(rows).to_frame("t")
        text = part.select(ts("t").dt.replace_time_zone("UTC").dt.convert_time_zone(zone).dt.strftime(fmt)).to_series()
        out = out.scatter(rows, text)
    return out


def delivery_name(epoch: int) -> str:
    """The landing folder name of a delivery received at `epoch`: `YYYY-MM-DDTHHMMSSZ`."""
    return time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime(epoch))


def day_stamp(epoch: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(epoch))


# --- JSON text ------------------------------------------------------------------------------------------


def jstr(expr: pl.Expr) -> pl.Expr:
    """A JSON string literal (`null` for null)."""
    escaped = expr.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
    return pl.when(expr.is_null()).then(pl.lit("null")).otherwise(pl.concat_str([pl.lit('"'), escaped, pl.lit('"')]))


def jraw(expr: pl.Expr) -> pl.Expr:
    """A number or boolean already in JSON form, `null` for null."""
    return expr.cast(pl.String).fill_null("null")


def jbool(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_null()).then(pl.lit("null")).when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))


def jobj(fields: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """A JSON object from (key, JSON text) pairs; a pair whose text is null is left out entirely."""
    pieces = [pl.concat_str([pl.lit(f'"{k}": '), v]) for k, v in fields]
    return pl.concat_str([pl.lit("{"), pl.concat_str(pieces, separator=", ", ignore_nulls=True), pl.lit("}")])


def jlist(expr: pl.Expr) -> pl.Expr:
    """A JSON array from a list column of JSON texts."""
    return pl.concat_str([pl.lit("["), expr.list.join(", "), pl.lit("]")])


# --- ids, digits, money ---------------------------------------------------------------------------------


def hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> pl.Series:
    """`n` random lower-case hex strings of 2*nbytes characters (one call, no per-id Python)."""
    if n == 0:
        return pl.Series([], dtype=pl.String)
    raw = np.frombuffer(rng.bytes(n * nbytes).hex().encode("ascii"), dtype=f"S{2 * nbytes}")
    return pl.Series(raw.astype(f"U{2 * nbytes}"), dtype=pl.String)


def padded(values: np.ndarray | pl.Series, width: int) -> pl.Series:
    return pl.Series(values).cast(pl.String).str.zfill(width)


def money(cents: pl.Expr) -> pl.Expr:
    """Integer cents -> `59.90`."""
    return pl.concat_str([(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.zfill(2)])


def choice(
    rng: np.random.Generator, values: list[str] | tuple[str, ...], n: int, p: list[float] | None = None
) -> pl.Series:
    """`n` draws from `values` as a string Series."""
    if n == 0:
        return pl.Series([], dtype=pl.String)
    weights = None if p is None else np.asarray(p, dtype=float) / np.sum(p)
    idx = rng.choice(len(values), size=n, p=weights)
    return pl.Series(list(values), dtype=pl.String).gather(idx)
