"""Right-to-be-forgotten requests from the privacy portal (feeds.md §15): `requests_*.jsonl`.

Only erasure requests matter (`rules/mappings/erasure_requests.yaml` `erasure_types`); the portal's other
types (access, rectification...: `other_types`) are skipped (`not_erasure`), and a type in neither list is
quarantined (`unknown_request_type`): skipped must be earned. An erasure
request names its subject by `subject.customer_id`, `subject.emails` and `subject.phones`, and becomes one
`erasure_requests` row per identifier: the customer (`party_id`, no contact point), each email, each phone
(E.164: the portal gives no country). Every row carries the request's customer id, if any, so an erased
contact point stays tied to the party it was erased for. `requested_at` is `received_at` (ISO 8601,
`bad_timestamp`). A request that names no identifier at all cannot be carried out: `no_subject`. An empty
`type` is `missing_value`; an empty `request_id` does not stop an erasure (the request still binds).
An invalid email or phone is a rejected part (the core's): the request's other identifiers are still erased.

Lines are decoded against a fixed schema (a scalar where a list belongs becomes a one-item list, a number
where text belongs becomes text). A line whose fields have irreconcilable JSON types (an object where a
list of strings belongs) is rejected on its own by the shared reader (`bad_json_type`); the rest of the
file is read.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from source_connectors._common import (
    field,
    parse_files,
    skip_records,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, Records, read_json

SOURCE = "erasure_requests"
KIND = "requests"  # its file patterns: rules/files.yaml
TEXT_LIST = pl.List(pl.String)
REQUEST = pl.Struct(
    {
        "request_id": pl.String,
        "received_at": pl.String,
        "regulation": pl.String,
        "type": pl.String,
        "subject": pl.Struct({"customer_id": pl.String, "emails": TEXT_LIST, "phones": TEXT_LIST}),
    }
)

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, _read, _requests)


def _read(path: Path) -> Records:
    return read_json(path, REQUEST)


def _requests(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    rows = rows.select(
        REC,
        text(field(rows, "request_id")).alias("request_id"),
        text(field(rows, "type")).str.to_lowercase().alias("type"),
        field(rows, "received_at").alias("received_at"),
        text(field(rows, "regulation")).alias("regulation"),
        text(field(rows, "subject.customer_id")).alias("party_id"),
        field(rows, "subject.emails", TEXT_LIST).alias("emails"),
        field(rows, "subject.phones", TEXT_LIST).alias("phones"),
    )
    m = rules.mapping(SOURCE)
    erasure = [t.lower() for t in m.erasure_types]
    other = [t.lower() for t in m.other_types]
    rows = _reject(batch, rel, rows, pl.col("type").is_null(), "missing_value", "type is empty")
    # Skipped must be earned: only a type the portal is known to send is skipped.
    rows = _reject(
        batch,
        rel,
        rows,
        ~pl.col("type").is_in([*erasure, *other]),
        "unknown_request_type",
        pl.format("type: {}", pl.col("type")),
    )
    skip_records(batch, rel, rows.filter(pl.col("type").is_in(other)), "not_erasure")
    rows = rows.filter(pl.col("type").is_in(erasure)).with_columns(
        _identifiers("emails"), _identifiers("phones"), iso8601(pl.col("received_at")).alias("ts")
    )
    rows = _reject(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("received_at: {}", pl.col("received_at").fill_null("")),
    )
    nobody = pl.col("party_id").is_null() & (pl.col("emails").list.len() == 0) & (pl.col("phones").list.len() == 0)
    rows = _reject(batch, rel, rows, nobody, "no_subject", "subject names no customer_id, email or phone")
    base = with_lineage(rows, delivery, rel, pl.col("request_id"))
    subjects = [
        base.filter(pl.col("party_id").is_not_null()).with_columns(
            pl.lit(None, pl.String).alias("cp_raw"), pl.lit(None, pl.String).alias("contact_point_type")
        ),
        *[
            base.explode(column)
            .filter(pl.col(column).is_not_null())
            .with_columns(pl.col(column).alias("cp_raw"), pl.lit(cp_type).alias("contact_point_type"))
            for column, cp_type in (("emails", "email"), ("phones", "phone"))
        ],
    ]
    batch.add(
        "erasure_requests",
        pl.concat([_rows(frame) for frame in subjects]).sort(REC, maintain_order=True),
    )


def _reject(
    batch: Batch, rel: str, rows: pl.DataFrame, mask: pl.Expr, reason: str, detail: str | pl.Expr
) -> pl.DataFrame:
    """`reject_where` that keeps the request's customer id on the quarantine row, so the quarantined
    request is scrubbed when its subject is erased."""
    marked = rows.with_columns(mask.fill_null(False).alias("_bad"))
    bad = marked.filter(pl.col("_bad"))
    batch.reject(
        bad.select(
            pl.lit(rel).alias("source_file"),
            REC,
            pl.lit(reason).alias("reason"),
            (detail if isinstance(detail, pl.Expr) else pl.lit(detail)).alias("detail"),
            "party_id",
        )
    )
    return marked.filter(~pl.col("_bad")).drop("_bad")


def _identifiers(column: str) -> pl.Expr:
    """A list of identifiers trimmed, without empty or repeated entries."""
    items = (
        pl.col(column)
        .fill_null([])
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars().str.len_chars() > 0))
    )
    return items.list.unique(maintain_order=True).alias(column)


def _rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        *LINEAGE_COLS,
        "request_id",
        "regulation",
        "party_id",
        "cp_raw",
        "contact_point_type",
        pl.lit(None, pl.String).alias("cp_region"),
        pl.col("ts").alias("requested_at"),
    )
