"""Helpers every connector shares: which files a delivery holds by kind (the rules' patterns), reading
each file on its own so one cannot cost its siblings, lineage columns, rejects and skips, safe access into
nested JSON."""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import RulesError
from source_connectors.readers import REC, Envelopes, Records, rejects_for

log = logging.getLogger(__name__)

TRUE_WORDS = ("true", "t", "yes", "y", "1")


def with_lineage(frame: pl.DataFrame, delivery: Delivery, rel: str, record_id: pl.Expr | None = None) -> pl.DataFrame:
    """Add source, delivery, received_ts, source_file (and source_record_id) to a frame keyed by record."""
    return frame.with_columns(
        pl.lit(delivery.source).alias("source"),
        pl.lit(delivery.name).alias("delivery"),
        pl.lit(delivery.received_ts, pl.Datetime("us")).alias("received_ts"),
        pl.lit(rel).alias("source_file"),
        (record_id.cast(pl.String) if record_id is not None else pl.lit(None, pl.String)).alias("source_record_id"),
    )


def start_file(batch: Batch, delivery: Delivery, path: Path, records: Records) -> str:
    """Register a file as read and keep the records it could not read; returns the lineage path. A file
    that could not be read at all is one quarantine row (no record number) and a ledger row of 0 records:
    `unreadable` when its bytes hold no record, `failed` (read again by the next run) when they could not be
    read."""
    problem = records.problem
    status = "read" if problem is None else "failed" if problem.retry else "unreadable"
    rel = batch.read_file(delivery, path, records.count, records.raw, status, records.sha256, records.size)
    if records.problem is not None:
        batch.reject(
            pl.DataFrame(
                {
                    "source_file": [rel],
                    "reason": [records.problem.reason],
                    "detail": [records.problem.detail],
                    "raw": [rel],
                }
            )
        )
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


def kinds_of(delivery: Delivery, rules: Rules, source: str, kinds: Sequence[str]) -> dict[str, list[Path]]:
    """The delivery's files by kind, as the rules' patterns name them (files.yaml); each file under the
    first kind that matches it. Every other file is left for `unexpected_files`."""
    spec = rules.source_files(source)
    for kind in kinds:
        if kind not in spec.files:
            raise RulesError(rules.files_path, f"{source}.files.{kind}", "required key is missing")
    taken: set[Path] = set()
    out: dict[str, list[Path]] = {}
    for kind in kinds:
        found = [p for pattern in spec.files[kind] for p in delivery.files(pattern) if p not in taken]
        out[kind] = sorted(dict.fromkeys(found))
        taken.update(found)
    return out


def wildcard(path: Path, patterns: Sequence[str]) -> str | None:
    """What the last `*` of the first matching pattern stands for in the file's name (an audience id, a
    group id), or None."""
    for pattern in patterns:
        pattern = pattern.rsplit("/", 1)[-1]
        parts = pattern.split("*")
        if len(parts) < 2:
            continue
        regex = "(.*?)".join(re.escape(p) for p in parts[:-1]) + "(.*)" + re.escape(parts[-1])
        m = re.fullmatch(regex, path.name, flags=re.IGNORECASE)
        if m:
            return m.groups()[-1]
    return None


def envelopes(rules: Rules, source: str, check: Callable[[dict], str | None] | None = None) -> Envelopes:
    """The source's envelope keys from the rules, with the vendor's test of a failed response."""
    return Envelopes(tuple(rules.source_files(source).envelopes), check)


def unexpected_files(batch: Batch, delivery: Delivery, expected: Sequence[Path]) -> None:
    """Files in a delivery that match no pattern of the source: one quarantine row and one ledger row each
    (status `unexpected`: the first later run whose rules name the file reads it)."""
    known = set(expected)
    for path in delivery.all_files():
        if path in known:
            continue
        digest, size = _digest(path)
        rel = batch.read_file(delivery, path, 0, None, "unexpected", digest, size)
        batch.reject(
            pl.DataFrame(
                {
                    "source_file": [rel],
                    "reason": ["unexpected_file"],
                    "raw": [rel],
                    "detail": [f"no pattern of rules/files.yaml for {delivery.source} names {path.name!r}"],
                }
            )
        )


def _digest(path: Path) -> tuple[str | None, int | None]:
    try:
        data = path.read_bytes()
    except OSError:
        return None, None
    return hashlib.sha256(data).hexdigest(), len(data)


def all_records_rejected(batch: Batch, rel: str, records: Records, reason: str, detail: str) -> None:
    nums = pl.int_range(1, records.count + 1, eager=True)
    batch.reject(rejects_for(nums, reason, records.raw, detail).with_columns(pl.lit(rel).alias("source_file")))


Reader = Callable[[Path], Records]
Handler = Callable[[Batch, Delivery, str, pl.DataFrame, Rules], None]


def each_file(
    batch: Batch,
    delivery: Delivery,
    paths: Sequence[Path],
    read: Reader,
    handle: Callable[[Batch, str, Records], None],
) -> None:
    """Read each file and hand its records to `handle`, one file at a time: when the connector breaks on a
    file, what it made of that file is dropped, the file is quarantined (`unreadable_file`, status
    `failed`: read again by the next run) and its siblings are read as usual."""
    for path in paths:
        part = Batch(batch.source)
        try:
            records = read(path)
            rel = start_file(part, delivery, path, records)
            if records.problem is None:
                handle(part, rel, records)
        except Exception as exc:  # any bug on one file must not cost the others
            log.error("%s: failed on %s: %s", batch.source, path, traceback.format_exc())
            part = Batch(batch.source)
            rel = part.read_file(delivery, path, 0, None, "failed")
            part.reject(
                pl.DataFrame(
                    {
                        "source_file": [rel],
                        "reason": ["unreadable_file"],
                        "raw": [rel],
                        "detail": [f"the {batch.source} connector failed ({type(exc).__name__}: {exc})"[:500]],
                    }
                )
            )
        batch.extend(part)


def parse_files(source: str, delivery: Delivery, rules: Rules, kind: str, read: Reader, handle: Handler) -> Batch:
    """The usual shape of a connector: every file of one kind is read with `read` and its readable records
    handed to `handle`; any other file is reported (`unexpected_file`)."""
    batch = Batch(source)
    files = kinds_of(delivery, rules, source, [kind])[kind]
    unexpected_files(batch, delivery, files)

    def one(part: Batch, rel: str, records: Records) -> None:
        if records.frame.height:
            handle(part, delivery, rel, records.frame, rules)

    each_file(batch, delivery, files, read, one)
    return batch
