"""Third-party lead-generation vendors (feeds.md §12): prospects, `leads_*.csv`.

Each `;`-separated entry of `consent_channels` is an express opt-in captured by the vendor (basis
`third_party`) to the mapping's purpose of the row's brand, at `consent_captured_at` (ISO 8601). A lead names
no customer: the subject is the contact point of the channel's type (rules `contact_point_types`): the
email for an email channel, the phone (national numbers parsed with the row's country) for a phone channel.
A channel whose type a lead carries no contact point for (postal: a lead has no address; push: no contact
point at all), or whose contact point the lead left empty, is a rejected part (`no_contact_point`); an
unknown channel name is a rejected part (`unmapped_channel`). The lead's identity (email, phone, country,
names) becomes a subject profile, so the prospect gets a region, but only for a lead with at least one
channel part to give it to.

Whole-record rejects: an empty or unknown brand (checked here, not left to validation, so a rejected lead
leaves no profile behind), an unparseable `consent_captured_at` (`bad_timestamp`) and an empty
`consent_channels` (`missing_value`: a lead without consent is not a lead the feed delivers).
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from source_connectors._common import (
    parse_files,
    reject_where,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_csv

SOURCE = "lead_lists"
KIND = "leads"  # its file patterns: rules/files.yaml
REQUIRED = ("brand", "consent_channels", "consent_captured_at")
# A vendor that collects only emails (or only phones) may leave the other column out.
OPTIONAL = (
    "lead_id",
    "vendor",
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "postal_code",
    "consent_text_version",
    "ip_address",
)
# Contact-point types a lead carries, and its column for each.
LEAD_CONTACT = {"email": "email", "phone": "phone"}

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, lambda path: read_csv(path, REQUIRED, OPTIONAL), _leads)


def _leads(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    rows = _checked(batch, rel, rows, rules)
    parts = _channel_parts(batch, rel, rows, rules)
    base = with_lineage(rows, delivery, rel, text("lead_id"))
    events = base.join(parts, on=REC, how="inner", maintain_order="left")
    batch.add(
        "events",
        events.select(
            *LINEAGE_COLS,
            pl.lit(None, pl.String).alias("party_id"),
            "cp_raw",
            "contact_point_type",
            pl.col("country").alias("cp_region"),
            "channel",
            pl.lit(rules.mapping(SOURCE).purpose).alias("purpose"),
            "brand",
            pl.lit("opt_in").alias("status"),
            pl.lit("third_party").alias("basis"),
            pl.col("ts").alias("event_ts"),
            pl.lit(False).alias("double_opt_in"),
        ),
    )
    batch.add(
        "subject_profiles",
        base.filter(pl.col(REC).is_in(parts[REC].implode())).select(
            *LINEAGE_COLS,
            pl.col("email").alias("email_raw"),
            pl.col("phone").alias("phone_raw"),
            pl.col("country").alias("cp_region"),
            "country",
            text("first_name").alias("first_name"),
            text("last_name").alias("last_name"),
            pl.col("ts").alias("observed_ts"),
        ),
    )


def _checked(batch: Batch, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """A known brand, a readable capture time (`ts`) and some consent channels, or the lead is rejected."""
    rows = rows.with_columns(
        text("brand").alias("brand"),
        text("email").alias("email"),
        text("phone").alias("phone"),
        text("country").str.to_uppercase().alias("country"),
        iso8601(pl.col("consent_captured_at")).alias("ts"),
    )
    rows = reject_where(batch, rel, rows, pl.col("brand").is_null(), "missing_value", "brand is empty")
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("brand").is_in(rules.brands),
        "unknown_brand",
        pl.format("brand: {}", pl.col("brand")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("consent_captured_at: {}", pl.col("consent_captured_at").fill_null("")),
    )
    return reject_where(
        batch,
        rel,
        rows,
        text(pl.col("consent_channels").str.replace_all(";", "", literal=True)).is_null(),
        "missing_value",
        "consent_channels is empty",
    )


def _channel_parts(batch: Batch, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """One row per (lead, consent channel) with its contact point (`cp_raw`, `contact_point_type`); the
    channels that cannot be mapped to one are rejected parts."""
    channel_type = rules.channel_type
    parts = (
        rows.select(REC, "email", "phone", pl.col("consent_channels").str.split(";").alias("channel"))
        .explode("channel")
        .with_columns(text("channel").str.to_lowercase().alias("channel"))
        .filter(pl.col("channel").is_not_null())
        .unique([REC, "channel"], maintain_order=True)
        .with_columns(
            pl.col("channel")
            .replace_strict(channel_type, default=None, return_dtype=pl.String)
            .alias("contact_point_type")
        )
    )
    parts = reject_where(
        batch,
        rel,
        parts,
        ~pl.col("channel").is_in(rules.channels),
        "unmapped_channel",
        pl.format("consent_channels: {}", pl.col("channel")),
    )
    cp_raw = pl.lit(None, pl.String)
    for cp_type, column in LEAD_CONTACT.items():
        cp_raw = pl.when(pl.col("contact_point_type") == cp_type).then(pl.col(column)).otherwise(cp_raw)
    parts = parts.with_columns(cp_raw.alias("cp_raw"))
    parts = reject_where(
        batch,
        rel,
        parts,
        pl.col("cp_raw").is_null(),
        "no_contact_point",
        pl.format(
            "consent_channels: {} ({})",
            pl.col("channel"),
            pl.when(pl.col("contact_point_type").is_in(list(LEAD_CONTACT)))
            .then(pl.format("{} is empty", pl.col("contact_point_type")))
            .otherwise(pl.lit("a lead has no contact point of this channel's type")),
        ),
    )
    return parts.select(REC, "channel", "contact_point_type", "cp_raw")
