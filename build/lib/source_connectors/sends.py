"""Messages actually sent, ESP and SMS platform logs (feeds.md §14): `sends_*.csv`.

Each row is a `sends` fact (frequency caps, the audit of sends that were not allowed). The contact point's
type is the channel's (rules `contact_point_types`); phones are expected in E.164 (a send log names no
country). An unknown channel is rejected here (`unmapped_channel`: without it there is no contact-point
type; validation never sees it). A channel with no contact-point type (push: a device, not a contact
point) keeps the send with no contact point. A send on a channel that has a type but names no contact
point cannot be audited or capped: `missing_value`. A postal contact point is written as the warehouse
writes it, `LINE1, CITY, POSTCODE, CC`: the last three comma-separated parts are city, postcode and country,
the rest the street line. `sent_at` is ISO 8601 (`bad_timestamp`). An empty
`campaign_id` is a send outside any campaign (service messages). Empty `send_id`, unknown brand or purpose
(a leaf purpose is required) are left to validation.
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.lib.contact_points import postal_raw
from source_connectors._common import (
    parse_files,
    reject_where,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_csv

SOURCE = "sends"
KIND = "sends"  # its file patterns: rules/files.yaml
REQUIRED = ("send_id", "channel", "brand", "purpose", "contact_point", "sent_at")
OPTIONAL = ("campaign_id",)

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, lambda path: read_csv(path, REQUIRED, OPTIONAL), _sends)


def _sends(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    rows = rows.with_columns(
        text("send_id").alias("send_id"),
        text("channel").str.to_lowercase().alias("channel_id"),
        text("contact_point").alias("cp_raw"),
        iso8601(pl.col("sent_at")).alias("ts"),
    ).with_columns(
        pl.col("channel_id")
        .replace_strict(rules.channel_type, default=None, return_dtype=pl.String)
        .alias("contact_point_type")
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("channel_id").is_in(rules.channels).fill_null(False),
        "unmapped_channel",
        pl.format("channel: {}", pl.col("channel").fill_null("")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("contact_point_type").is_not_null() & pl.col("cp_raw").is_null(),
        "missing_value",
        "contact_point is empty",
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("sent_at: {}", pl.col("sent_at").fill_null("")),
    )
    has_type = pl.col("contact_point_type").is_not_null()
    batch.add(
        "sends",
        with_lineage(rows, delivery, rel, pl.col("send_id")).select(
            *LINEAGE_COLS,
            "send_id",
            pl.col("channel_id").alias("channel"),
            text("brand").alias("brand"),
            text("campaign_id").alias("campaign_id"),
            text("purpose").alias("purpose"),
            pl.when(pl.col("contact_point_type") == "postal")
            .then(_postal(pl.col("cp_raw")))
            .when(has_type)
            .then(pl.col("cp_raw"))
            .alias("cp_raw"),
            "contact_point_type",
            pl.lit(None, pl.String).alias("cp_region"),
            pl.col("ts").alias("sent_at"),
        ),
    )


def _postal(address: pl.Expr) -> pl.Expr:
    """`LINE1, CITY, POSTCODE, CC` (the street line may hold commas) into the four parts the core normalises."""
    parts = address.str.split(",").list.eval(pl.element().str.strip_chars())
    n = parts.list.len()
    return postal_raw(
        parts.list.slice(0, n - 3).list.join(", "),
        parts.list.get(-3, null_on_oob=True),
        parts.list.get(-2, null_on_oob=True),
        parts.list.get(-1, null_on_oob=True),
    )
