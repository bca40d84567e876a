"""Normalise every raw contact point of a batch (semantics §2), turning invalid ones into rejected parts."""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import REJECTS, TABLES, Batch, ContactColumn, conform, empty
from consent_pipeline.lib.contact_points import normalise_emails, normalise_phones, normalise_postal

_TYPES = ("email", "phone", "postal")
_IDX = "__row"


def _normalise(raw: pl.Series, kind: str, region: pl.Series | None) -> pl.DataFrame:
    if kind == "email":
        return normalise_emails(raw)
    if kind == "phone":
        return normalise_phones(raw, region)
    return normalise_postal(raw)


def _column(frame: pl.DataFrame, c: ContactColumn) -> pl.DataFrame:
    """Columns `value` and `reason` for one contact column, aligned with `frame`."""
    if c.kind in _TYPES:
        region = frame[c.region] if c.region else None
        return _normalise(frame[c.raw], c.kind, region)
    # The type is per row (e.g. events' contact_point_type): normalise each type's rows on their own.
    indexed = frame.select(pl.int_range(frame.height).alias(_IDX), c.raw, c.kind, *([c.region] if c.region else []))
    pieces: list[pl.DataFrame] = []
    for kind in _TYPES:
        part = indexed.filter((pl.col(c.kind) == kind) & pl.col(c.raw).is_not_null())
        if part.height:
            result = _normalise(part[c.raw], kind, part[c.region] if c.region else None)
            pieces.append(part.select(_IDX).hstack(result))
    other = indexed.filter(pl.col(c.raw).is_not_null() & ~pl.col(c.kind).is_in(_TYPES).fill_null(False))
    if other.height:
        pieces.append(
            other.with_columns(
                pl.lit(None, pl.String).alias("value"), pl.lit("unknown_contact_point_type").alias("reason")
            ).select(_IDX, "value", "reason")
        )
    base = indexed.select(_IDX)
    if not pieces:
        return base.with_columns(
            pl.lit(None, pl.String).alias("value"), pl.lit(None, pl.String).alias("reason")
        ).select("value", "reason")
    found = pl.concat(pieces)
    return base.join(found, on=_IDX, how="left", maintain_order="left").select("value", "reason")


def normalise_table(name: str, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The table with its contact columns normalised (raw columns dropped), and the rejected parts."""
    spec = TABLES[name]
    if not spec.contacts or frame.height == 0:
        return frame.select(list(spec.all_columns)), empty(REJECTS)
    given: list[pl.Series] = []  # per contact column: a value was given
    failed: list[pl.Series] = []  # per contact column: the value was rejected
    rejects: list[pl.DataFrame] = []
    for c in spec.contacts:
        result = _column(frame, c)
        frame = frame.with_columns(result["value"].alias(c.out))
        bad = result["reason"].is_not_null()
        given.append(frame[c.raw].is_not_null() & (frame[c.raw].cast(pl.String).str.strip_chars() != ""))
        failed.append(bad)
        if bad.any():
            rows = frame.filter(bad)
            rejects.append(
                rows.select(
                    "source_file",
                    "source_record",
                    result["reason"].filter(bad).alias("reason"),
                    # the value alone: the same bad value in two tables of one record is one rejected part
                    pl.col(c.raw).cast(pl.String).alias("detail"),
                    pl.col("party_id") if "party_id" in rows.columns else pl.lit(None, pl.String).alias("party_id"),
                )
            )
    any_failed = pl.Series([False] * frame.height)
    any_valid = pl.Series([False] * frame.height)
    for g, f in zip(given, failed, strict=True):
        any_failed = any_failed | f
        any_valid = any_valid | (g & ~f)
    if spec.keep_row == "all":
        frame = frame.filter(~any_failed)
    elif spec.keep_row == "any":
        frame = frame.filter(~any_failed | any_valid)
    out_rejects = conform(pl.concat(rejects), REJECTS) if rejects else empty(REJECTS)
    return frame.select(list(spec.all_columns)), out_rejects


def normalise_batch(batch: Batch) -> None:
    """Normalise every table of the batch in place; rejected parts join the batch's rejects."""
    for name in batch.table_names:
        frame, rejects = normalise_table(name, batch.table(name))
        batch.set_table(name, frame)
        batch.reject(rejects)
