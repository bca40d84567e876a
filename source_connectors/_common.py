"""Helpers every connector shares: lineage columns, rejects and skips, safe access into nested JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from source_connectors._io import REC, Records, rejects_for

TRUE_WORDS = ("true", "t", "yes", "y", "1")


def with_lineage(
    frame: pl.DataFrame, delivery: Delivery, rel: str, record_id: pl.Expr | None = None
) -> pl.DataFrame:
    """Add source, delivery, received_ts, source_file (and source_record_id) to a frame keyed by record."""
    return frame.with_columns(
        pl.lit(delivery.source).alias("source"),
        pl.lit(delivery.name).alias("delivery"),
        pl.lit(delivery.received_ts, pl.Datetime("us")).alias("received_ts"),
        pl.lit(rel).alias("source_file"),
        (record_id.cast(pl.String) if record_id is not None else pl.lit(None, pl.String)).alias(
            "source_record_id"
        ),
    )


def start_file(batch: Batch, delivery: Delivery, path: Path, records: Records) -> str:
    """Register a file as read and keep the records it could not read; returns the lineage path."""
    rel = batch.read_file(delivery, path, records.count, records.raw)
    batch.reject(records.rejects.with_columns(pl.lit(rel).alias("source_file")))
    return rel


def reject_where(
    batch: Batch,
    rel: str,
    frame: pl.DataFrame,
    mask: pl.Expr,
    reason: str,
    detail: pl.Expr | str | None = None,
) -> pl.DataFrame:
    """Reject the rows of `frame` (keyed by source_record) matching `mask`; returns the other rows."""
    marked = frame.with_columns(mask.fill_null(False).alias("_bad"))
    bad = marked.filter(pl.col("_bad"))
    if bad.height:
        det = detail if isinstance(detail, pl.Expr) else pl.lit(detail, pl.String)
        batch.reject(
            bad.select(
                pl.lit(rel).alias("source_file"),
                pl.col(REC),
                pl.lit(reason).alias("reason"),
                det.cast(pl.String).alias("detail"),
            )
        )
    return marked.filter(~pl.col("_bad")).drop("_bad")


def skip_records(batch: Batch, rel: str, records: pl.Series | pl.DataFrame, reason: str) -> None:
    nums = records[REC] if isinstance(records, pl.DataFrame) else records
    if len(nums):
        batch.skip(
            pl.DataFrame({REC: nums.unique()}).with_columns(
                pl.lit(rel).alias("source_file"), pl.lit(reason).alias("reason")
            )
        )


_STRING = pl.String()


def field(frame: pl.DataFrame, path: str, dtype: pl.DataType = _STRING) -> pl.Expr:
    """`a.b.c` inside nested structs, or null when the path does not exist in the frame's schema."""
    head, *rest = path.split(".")
    if head not in frame.columns:
        return pl.lit(None, dtype)
    expr, current = pl.col(head), frame.schema[head]
    for name in rest:
        if not isinstance(current, pl.Struct) or name not in {f.name for f in current.fields}:
            return pl.lit(None, dtype)
        current = next(f.dtype for f in current.fields if f.name == name)
        expr = expr.struct.field(name)
    return expr.cast(dtype, strict=False) if current != dtype else expr


def text(col: str | pl.Expr) -> pl.Expr:
    """A text field trimmed, with empty meaning null."""
    expr = pl.col(col) if isinstance(col, str) else col
    expr = expr.cast(pl.String).str.strip_chars()
    return pl.when(expr == "").then(None).otherwise(expr)


def boolean(col: str | pl.Expr) -> pl.Expr:
    expr = pl.col(col) if isinstance(col, str) else col
    return expr.cast(pl.String).str.strip_chars().str.to_lowercase().is_in(TRUE_WORDS)


def unexpected_files(batch: Batch, delivery: Delivery, expected: Sequence[Path]) -> None:
    """Files in a delivery that the connector does not read: one quarantine row each."""
    known = {p.resolve() for p in expected}
    for path in delivery.files():
        if path.resolve() not in known:
            rel = delivery.relative(path)
            batch.reject(
                pl.DataFrame(
                    {
                        "source_file": [rel],
                        "reason": ["unexpected_file"],
                        "raw": [rel],
                        "detail": [f"not a file this feed delivers: {path.name}"],
                    }
                )
            )


def all_records_rejected(batch: Batch, rel: str, records: Records, reason: str, detail: str) -> None:
    nums = pl.int_range(1, records.count + 1, eager=True)
    batch.reject(
        rejects_for(nums, reason, records.raw, detail).with_columns(pl.lit(rel).alias("source_file"))
    )


Reader = Callable[[Path], Records]
Handler = Callable[[Batch, Delivery, str, pl.DataFrame, Rules], None]


def parse_files(
    source: str, delivery: Delivery, rules: Rules, patterns: Sequence[str], read: Reader, handle: Handler
) -> Batch:
    """The usual shape of a connector: every file of the delivery matching `patterns` is read with `read`
    and its readable records handed to `handle`; any other file is reported (`unexpected_file`)."""
    batch = Batch(source)
    files = [p for pattern in patterns for p in delivery.files(pattern)]
    unexpected_files(batch, delivery, files)
    for path in files:
        records = read(path)
        rel = start_file(batch, delivery, path, records)
        if records.frame.height:
            handle(batch, delivery, rel, records.frame, rules)
    return batch
