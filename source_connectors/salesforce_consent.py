"""Salesforce consent data model, Data Loader CSV exports (feeds.md §2).

`Individual_*.csv`: each row links a Salesforce Individual to a customer id (`party_links`); "Don't Market"
(`HasOptedOutSolicit`) is a party-level opt-out and `ShouldForget` an erasure request.
`ContactPointTypeConsent_*.csv`: each row with a decision is a party-level event for one purpose, one
channel (or `*`: every channel of the ContactPointType) and one brand (or `*`), and a review of the party.
The party is the Individual (`party_ref`); its customer id is filled in when the Individual is in the same
delivery, else the core resolves it through `party_links`.
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from source_connectors._common import (
    each_file,
    kinds_of,
    reject_where,
    skip_records,
    text,
    unexpected_files,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_csv

SOURCE = "salesforce_consent"
KINDS = ("individuals", "type_consents")  # their file patterns: rules/files.yaml

IND_REQUIRED = ("Id", "CustomerId__c", "HasOptedOutSolicit", "ShouldForget", "LastModifiedDate")
# Every column that changes what a consent means is required: read as blank, a dropped EngagementChannelType
# or BusinessBrand would widen an opt-in to every channel or brand, a dropped CaptureSource would turn a
# spoken consent into a written one, a dropped EffectiveTo would make an ended opt-in last.
CONSENT_REQUIRED = (
    "Id",
    "PartyId",
    "ContactPointType",
    "EngagementChannelType",
    "DataUsePurpose",
    "BusinessBrand",
    "PrivacyConsentStatus",
    "CaptureDate",
    "CaptureSource",
    "EffectiveTo",
)
# Without it an opt-in reads as single opt-in: the stricter reading.
CONSENT_OPTIONAL = ("DoubleConsentCaptureDate",)

# Salesforce's PrivacyConsentStatus picklist (the product's vocabulary, not the company's).
DECISIONS = {"OptIn": "opt_in", "OptOut": "opt_out"}
NO_DECISION = ("NotSeen", "Seen")
TRUE_VALUES, FALSE_VALUES = ("true", "1"), ("false", "0")

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, KINDS)
    individuals, consents = files["individuals"], files["type_consents"]
    unexpected_files(batch, delivery, individuals + consents)
    # Individuals first: their customer ids name the parties of this delivery's consents.
    links: list[pl.DataFrame] = []
    each_file(
        batch,
        delivery,
        individuals,
        lambda path: read_csv(path, IND_REQUIRED),
        lambda part, rel, records: links.append(_individuals(part, delivery, rel, records.frame, rules))
        if records.frame.height
        else None,
    )
    customers = _customer_ids(links)
    each_file(
        batch,
        delivery,
        consents,
        lambda path: read_csv(path, CONSENT_REQUIRED, CONSENT_OPTIONAL),
        lambda part, rel, records: _consents(part, delivery, rel, records.frame, rules, customers)
        if records.frame.height
        else None,
    )
    return batch


# --- Individual ---------------------------------------------------------------------------------


def _flag(col: str) -> pl.Expr:
    """A Salesforce checkbox: true/false (1/0), blank is false; any other value is null (a bad value)."""
    value = text(col).str.to_lowercase()
    return (
        pl.when(value.is_null() | value.is_in(FALSE_VALUES))
        .then(False)
        .when(value.is_in(TRUE_VALUES))
        .then(True)
        .otherwise(None)
    )


def _individuals(
    batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules
) -> pl.DataFrame:
    rows = rows.with_columns(
        text("Id").alias("party_ref"),
        text("CustomerId__c").alias("party_id"),
        iso8601(pl.col("LastModifiedDate")).alias("ts"),
        _flag("HasOptedOutSolicit").alias("dont_market"),
        _flag("ShouldForget").alias("forget"),
    )
    rows = reject_where(batch, rel, rows, pl.col("party_ref").is_null(), "missing_value", "Id is empty")
    rows = reject_where(
        batch, rel, rows, pl.col("party_id").is_null(), "missing_value", "CustomerId__c is empty"
    )
    # The link holds whatever the time: consents of this delivery still find their customer.
    links = rows.select("party_ref", "party_id")
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("LastModifiedDate: {}", pl.col("LastModifiedDate").fill_null("")),
    )
    # A bad flag is a rejected part: the link and the other flag stand.
    for flag, column in (("dont_market", "HasOptedOutSolicit"), ("forget", "ShouldForget")):
        reject_where(
            batch,
            rel,
            rows,
            pl.col(flag).is_null(),
            "bad_value",
            pl.format(f"{column}: {{}}", pl.col(column)),
        )
    base = with_lineage(rows, delivery, rel, pl.col("party_ref"))
    batch.add(
        "party_links",
        base.select(
            *LINEAGE_COLS,
            pl.col("party_ref").alias("source_party_id"),
            "party_id",
            pl.col("ts").alias("linked_at"),
        ),
    )
    batch.add("events", _dont_market(base.filter(pl.col("dont_market")), rules))
    batch.add(
        "erasure_requests",
        base.filter(pl.col("forget")).select(
            *LINEAGE_COLS,
            pl.col("party_ref").alias("request_id"),
            "party_id",
            pl.lit(None, pl.String).alias("regulation"),
            pl.col("ts").alias("requested_at"),
        ),
    )
    return links


def _dont_market(rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """'Don't Market': an opt-out of marketing on every channel and brand at LastModifiedDate."""
    return rows.select(
        *LINEAGE_COLS,
        "party_id",
        "party_ref",
        pl.lit("*").alias("channel"),
        pl.lit(rules.mapping(SOURCE).dont_market_purpose).alias("purpose"),
        pl.lit("*").alias("brand"),
        pl.lit("opt_out").alias("status"),
        pl.lit("express").alias("basis"),
        pl.col("ts").alias("event_ts"),
        pl.lit(False).alias("double_opt_in"),
    )


def _customer_ids(links: list[pl.DataFrame]) -> pl.DataFrame:
    """Individual Id -> CustomerId__c over the delivery's Individual files (the last row of an Id wins)."""
    frame = (
        pl.concat(links) if links else pl.DataFrame(schema={"party_ref": pl.String, "party_id": pl.String})
    )
    return frame.unique("party_ref", keep="last", maintain_order=True)


# --- ContactPointTypeConsent --------------------------------------------------------------------


def _consents(
    batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules, customers: pl.DataFrame
) -> None:
    rows = rows.with_columns(
        text("PrivacyConsentStatus").alias("sf_status"), text("PartyId").alias("party_ref")
    )
    # NotSeen / Seen carry no decision: nothing else about the row matters.
    skip_records(batch, rel, rows.filter(pl.col("sf_status").is_in(NO_DECISION)), "no_decision")
    rows = rows.filter(~pl.col("sf_status").is_in(NO_DECISION).fill_null(False))
    rows = reject_where(
        batch, rel, rows, pl.col("sf_status").is_null(), "missing_value", "PrivacyConsentStatus is empty"
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("sf_status").is_in(list(DECISIONS)),
        "bad_value",
        pl.format("PrivacyConsentStatus: {}", pl.col("sf_status")),
    )
    rows = reject_where(batch, rel, rows, pl.col("party_ref").is_null(), "missing_value", "PartyId is empty")
    rows = _scope(batch, rel, rows, rules)
    rows = _times(batch, rel, rows)
    verbal = [s.strip().lower() for s in rules.mapping(SOURCE).verbal_capture_sources]
    rows = rows.join(customers, on="party_ref", how="left", maintain_order="left").with_columns(
        pl.col("sf_status").replace_strict(DECISIONS, return_dtype=pl.String).alias("status"),
        pl.when(text("CaptureSource").str.to_lowercase().is_in(verbal))
        .then(pl.lit("express_verbal"))
        .otherwise(pl.lit("express"))
        .alias("basis"),
        text("DoubleConsentCaptureDate").is_not_null().alias("double_opt_in"),
    )
    base = with_lineage(rows, delivery, rel, text("Id"))
    batch.add(
        "events",
        base.select(
            *LINEAGE_COLS,
            "party_id",
            "party_ref",
            "contact_point_type",
            "channel",
            "purpose",
            "brand",
            "status",
            "basis",
            "event_ts",
            "valid_until",
            "double_opt_in",
        ),
    )
    batch.add(
        "reviews",
        base.select(*LINEAGE_COLS, "party_id", "party_ref", pl.col("event_ts").alias("reviewed_at")),
    )


def _mapped(col: str, mapping: dict[str, str]) -> pl.Expr:
    return text(col).replace_strict(mapping, default=None, return_dtype=pl.String)


def _detail(col: str) -> pl.Expr:
    return pl.format(f"{col}: {{}}", pl.col(col).fill_null(""))


def _scope(batch: Batch, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Channel, contact-point type, purpose and brand of each consent; unknown names are rejected."""
    rows = _channel(batch, rel, rows, rules)
    return _purpose_and_brand(batch, rel, rows, rules)


def _channel(batch: Batch, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """The channel (blank: `*`) and the contact-point type it covers.

    Channel `*` means every channel of the ContactPointType, so that type must be one we know. With a
    channel, the channel says the type (a Social or Web ContactPointType is fine), and a known
    ContactPointType must agree with it.
    """
    m = rules.mapping(SOURCE)
    rows = rows.with_columns(
        pl.when(text("EngagementChannelType").is_null())
        .then(pl.lit("*"))
        .otherwise(_mapped("EngagementChannelType", m.engagement_channels))
        .alias("channel"),
        _mapped("ContactPointType", m.contact_point_types).alias("sf_type"),
    ).with_columns(
        pl.col("channel")
        .replace_strict(rules.channel_type, default=None, return_dtype=pl.String)
        .alias("channel_type")
    )
    rows = reject_where(
        batch, rel, rows, pl.col("channel").is_null(), "unmapped_channel", _detail("EngagementChannelType")
    )
    star = pl.col("channel") == "*"
    rows = reject_where(
        batch,
        rel,
        rows,
        star & pl.col("sf_type").is_null(),
        "unmapped_contact_point_type",
        _detail("ContactPointType"),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~star
        & pl.col("sf_type").is_not_null()
        & (pl.col("sf_type") != pl.col("channel_type")).fill_null(True),
        "bad_value",
        pl.format(
            "ContactPointType {} with EngagementChannelType {}",
            pl.col("ContactPointType"),
            pl.col("EngagementChannelType"),
        ),
    )
    return rows.with_columns(
        pl.when(star).then(pl.col("sf_type")).otherwise(pl.col("channel_type")).alias("contact_point_type")
    )


def _purpose_and_brand(batch: Batch, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """The purpose by DataUsePurpose name; the brand by display name (blank: `*`)."""
    rows = rows.with_columns(
        _mapped("DataUsePurpose", rules.mapping(SOURCE).data_use_purposes).alias("purpose"),
        pl.when(text("BusinessBrand").is_null())
        .then(pl.lit("*"))
        .otherwise(_mapped("BusinessBrand", rules.brand_by_display_name))
        .alias("brand"),
    )
    rows = reject_where(
        batch, rel, rows, text("DataUsePurpose").is_null(), "missing_value", "DataUsePurpose is empty"
    )
    rows = reject_where(
        batch, rel, rows, pl.col("purpose").is_null(), "unmapped_purpose", _detail("DataUsePurpose")
    )
    return reject_where(
        batch, rel, rows, pl.col("brand").is_null(), "unmapped_brand", _detail("BusinessBrand")
    )


def _times(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """CaptureDate is the source time; EffectiveTo, when set, ends the consent (it may lie in the future)."""
    rows = rows.with_columns(
        iso8601(pl.col("CaptureDate")).alias("event_ts"), iso8601(pl.col("EffectiveTo")).alias("valid_until")
    )
    rows = reject_where(
        batch, rel, rows, pl.col("event_ts").is_null(), "bad_timestamp", _detail("CaptureDate")
    )
    return reject_where(
        batch,
        rel,
        rows,
        text("EffectiveTo").is_not_null() & pl.col("valid_until").is_null(),
        "bad_timestamp",
        _detail("EffectiveTo"),
    )
