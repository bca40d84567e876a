"""OneTrust consent receipts from the dealer web forms (feeds.md §9): `receipts_*.json`, a JSON array.

One receipt (an array element) is one record. Its source time is `interactionDate`, else `consentDate`;
its brand the mapping's `brand`. Each element of `purposes` maps its `Id` to a purpose (mapping
`purposes`; an unknown Id is one rejected part `unmapped_purpose`, whatever it decides). The purpose's
`TransactionType` decides at purpose level: CONFIRMED opt-in, WITHDRAWN / OPT_OUT / HARD_OPT_OUT opt-out
(basis express), EXPIRED opt-out with basis `expired`, PENDING pending; NOTGIVEN, NO_CHOICE,
CHANGE_PREFERENCES, EXTEND and CANCEL decide nothing. `Preferences` decide topic by topic (mapping `topics`
gives the channel; an unknown TopicId is a rejected part `unmapped_topic`): OPT_IN / OPT_OUT override the
purpose level for that channel; the mapping's `default_channels` without a topic keep the purpose level.
A TransactionType outside these lists is a rejected part `unknown_transaction_type` (a topic holding one
decides nothing for its channel: the purpose level is not guessed for a channel the form asked about).

Who each channel decision is about: the identifier when it is of the channel's type (Email: email; Phone:
sms and voice); else `dsDataElements.Phone` for a phone channel (parsed with `geoLocation.country`); else
the customer (`dsDataElements.CustomerId`, a party-level decision); with none of them the part is rejected
(`no_contact_point`). Every event of a receipt carries the CustomerId as party_id when it is given. A
receipt with decisions also gives a `subject_profiles` row (names, country, email and phone), so that a
prospect gets a region. A receipt that decides nothing is skipped (`no_decision`).

The array is decoded with a fixed schema (numbers read as text); if an element holds a field of an
unexpected JSON type (an object where a list belongs), the shared reader rejects that element alone
(`bad_json_type`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import OneTrustMap
from source_connectors._common import (
    parse_files,
    reject_where,
    skip_records,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, Records, read_json

SOURCE = "onetrust"
KIND = "receipts"  # its file patterns: rules/files.yaml

S = pl.String()
PREFERENCE = pl.Struct({"TopicId": S, "TransactionType": S})
PURPOSE = pl.Struct({"Id": S, "TransactionType": S, "Preferences": pl.List(PREFERENCE)})
RECEIPT = pl.Struct(
    {
        "receiptId": S,
        "identifier": S,
        "identifierType": S,
        "interactionDate": S,
        "consentDate": S,
        "geoLocation": pl.Struct({"country": S}),
        "dsDataElements": pl.Struct({"FirstName": S, "LastName": S, "Phone": S, "CustomerId": S}),
        "purposes": pl.List(PURPOSE),
    }
)

# OneTrust's TransactionType vocabulary (the product's, not the company's) -> (status, basis).
PURPOSE_DECISIONS = {
    "CONFIRMED": ("opt_in", "express"),
    "WITHDRAWN": ("opt_out", "express"),
    "OPT_OUT": ("opt_out", "express"),
    "HARD_OPT_OUT": ("opt_out", "express"),
    "EXPIRED": ("opt_out", "expired"),
    "PENDING": ("pending", "express"),
}
PURPOSE_NO_DECISION = ("NOTGIVEN", "NO_CHOICE", "CHANGE_PREFERENCES", "EXTEND", "CANCEL")
TOPIC_DECISIONS = {"OPT_IN": ("opt_in", "express"), "OPT_OUT": ("opt_out", "express")}
# identifierType -> the contact-point type it is.
IDENTIFIER_TYPES = {"email": "email", "phone": "phone"}

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")
DECISION_COLS = (REC, "pidx", "purpose", "channel", "status", "basis")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, _read, _receipts)


def _read(path: Path) -> Records:
    """The receipts with the fixed schema (elements whose fields have other JSON types are rejected)."""
    return read_json(path, RECEIPT)


def _receipts(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    m: OneTrustMap = rules.mapping(SOURCE)
    rows = _subject_fields(rows)
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("time_text").is_null(),
        "missing_value",
        "interactionDate and consentDate are empty",
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("{}: {}", pl.col("time_field"), pl.col("time_text")),
    )
    flawed: list[pl.Series] = []
    purposes = _purposes(batch, rel, rows, m, flawed)
    decisions = _decisions(batch, rel, purposes, m, flawed)
    events = _subjects(batch, rel, decisions.join(rows, on=REC, how="inner"), rules, flawed)
    decided = events[REC].unique().to_list()
    rejected = pl.concat([pl.Series(REC, [], pl.Int64), *flawed]).unique().to_list()
    skip_records(
        batch,
        rel,
        rows.filter(~pl.col(REC).is_in(decided) & ~pl.col(REC).is_in(rejected)),
        "no_decision",
    )
    base = with_lineage(events, delivery, rel, pl.col("receipt_id"))
    batch.add(
        "events",
        base.select(
            *LINEAGE_COLS,
            "party_id",
            "cp_raw",
            "contact_point_type",
            pl.col("country").alias("cp_region"),
            "channel",
            "purpose",
            pl.lit(m.brand).alias("brand"),
            "status",
            "basis",
            pl.col("ts").alias("event_ts"),
            pl.lit(False).alias("double_opt_in"),
        ),
    )
    batch.add(
        "subject_profiles",
        _profiles(with_lineage(rows.filter(pl.col(REC).is_in(decided)), delivery, rel, pl.col("receipt_id"))),
    )


def _subject_fields(rows: pl.DataFrame) -> pl.DataFrame:
    """Who the receipt is about and when: identifier and its type, Phone, CustomerId, names, country."""
    ds = pl.col("dsDataElements")
    return rows.with_columns(
        text("receiptId").alias("receipt_id"),
        text("identifier").alias("id_value"),
        text("identifierType")
        .str.to_lowercase()
        .replace_strict(IDENTIFIER_TYPES, default=None, return_dtype=pl.String)
        .alias("id_type"),
        text(pl.col("geoLocation").struct.field("country")).str.to_uppercase().alias("country"),
        text(ds.struct.field("Phone")).alias("ds_phone"),
        text(ds.struct.field("CustomerId")).alias("party_id"),
        text(ds.struct.field("FirstName")).alias("first_name"),
        text(ds.struct.field("LastName")).alias("last_name"),
        pl.when(text("interactionDate").is_not_null())
        .then(pl.lit("interactionDate"))
        .otherwise(pl.lit("consentDate"))
        .alias("time_field"),
        pl.coalesce(text("interactionDate"), text("consentDate")).alias("time_text"),
    ).with_columns(iso8601(pl.col("time_text")).alias("ts"))


def _rejected(
    batch: Batch,
    rel: str,
    frame: pl.DataFrame,
    mask: pl.Expr,
    reason: str,
    detail: pl.Expr,
    flawed: list[pl.Series],
) -> pl.DataFrame:
    """reject_where for a part of a record, noting the record as having a rejected part."""
    flawed.append(frame.filter(mask.fill_null(False))[REC])
    return reject_where(batch, rel, frame, mask, reason, detail)


def _purposes(
    batch: Batch, rel: str, rows: pl.DataFrame, m: OneTrustMap, flawed: list[pl.Series]
) -> pl.DataFrame:
    """One row per known purpose of a receipt (`pidx` tells two elements apart), with its purpose-level
    decision (null: none) and its Preferences."""
    purposes = (
        rows.select(REC, "purposes")
        .explode("purposes")
        .filter(pl.col("purposes").is_not_null())
        .with_row_index("pidx")
        .select(
            REC,
            "pidx",
            text(pl.col("purposes").struct.field("Id")).alias("purpose_id"),
            text(pl.col("purposes").struct.field("TransactionType")).str.to_uppercase().alias("purpose_tx"),
            pl.col("purposes").struct.field("Preferences").alias("preferences"),
        )
        .with_columns(
            pl.col("purpose_id")
            .replace_strict(m.purposes, default=None, return_dtype=pl.String)
            .alias("purpose")
        )
    )
    purposes = _rejected(
        batch,
        rel,
        purposes,
        pl.col("purpose").is_null(),
        "unmapped_purpose",
        pl.format("purpose Id: {}", pl.col("purpose_id").fill_null("")),
        flawed,
    )
    known = [*PURPOSE_DECISIONS, *PURPOSE_NO_DECISION]
    # An unreadable purpose-level type is a rejected part; the purpose's topics still decide their channels.
    _rejected(
        batch,
        rel,
        purposes,
        ~pl.col("purpose_tx").is_in(known).fill_null(True),
        "unknown_transaction_type",
        pl.format("purpose {} TransactionType: {}", pl.col("purpose_id"), pl.col("purpose_tx").fill_null("")),
        flawed,
    )
    status = {k: s for k, (s, _) in PURPOSE_DECISIONS.items()}
    basis = {k: b for k, (_, b) in PURPOSE_DECISIONS.items()}
    return purposes.with_columns(
        pl.col("purpose_tx").replace_strict(status, default=None, return_dtype=pl.String).alias("status"),
        pl.col("purpose_tx").replace_strict(basis, default=None, return_dtype=pl.String).alias("basis"),
    )


def _decisions(
    batch: Batch, rel: str, purposes: pl.DataFrame, m: OneTrustMap, flawed: list[pl.Series]
) -> pl.DataFrame:
    """One row per channel decided: the topics' own decisions, then the purpose level on the default
    channels that have no topic."""
    topics = (
        purposes.select(REC, "pidx", "purpose", "preferences")
        .explode("preferences")
        .filter(pl.col("preferences").is_not_null())
        .with_columns(
            text(pl.col("preferences").struct.field("TopicId")).alias("topic"),
            text(pl.col("preferences").struct.field("TransactionType")).str.to_uppercase().alias("topic_tx"),
        )
        .with_columns(
            pl.col("topic").replace_strict(m.topics, default=None, return_dtype=pl.String).alias("channel")
        )
    )
    topics = _rejected(
        batch,
        rel,
        topics,
        pl.col("channel").is_null(),
        "unmapped_topic",
        pl.format("TopicId: {}", pl.col("topic").fill_null("")),
        flawed,
    )
    # A channel with a topic is the topic's to decide, even when its type cannot be read.
    asked = topics.select(REC, "pidx", "channel")
    topics = _rejected(
        batch,
        rel,
        topics,
        ~pl.col("topic_tx").is_in(list(TOPIC_DECISIONS)).fill_null(True),
        "unknown_transaction_type",
        pl.format("topic {} TransactionType: {}", pl.col("topic"), pl.col("topic_tx").fill_null("")),
        flawed,
    )
    status = {k: s for k, (s, _) in TOPIC_DECISIONS.items()}
    basis = {k: b for k, (_, b) in TOPIC_DECISIONS.items()}
    by_topic = topics.with_columns(
        pl.col("topic_tx").replace_strict(status, return_dtype=pl.String).alias("status"),
        pl.col("topic_tx").replace_strict(basis, return_dtype=pl.String).alias("basis"),
    ).select(DECISION_COLS)
    defaults = pl.DataFrame({"channel": m.default_channels}, schema={"channel": pl.String})
    by_purpose = (
        purposes.filter(pl.col("status").is_not_null())
        .join(defaults, how="cross")
        .join(asked, on=[REC, "pidx", "channel"], how="anti")
        .select(DECISION_COLS)
    )
    return pl.concat([by_topic, by_purpose]).sort(REC, "pidx", "channel")


def _subjects(
    batch: Batch, rel: str, decisions: pl.DataFrame, rules: Rules, flawed: list[pl.Series]
) -> pl.DataFrame:
    """Each channel decision's subject: the identifier of the channel's type, else the form's Phone for a
    phone channel, else the customer (party-level); none of them: a rejected part."""
    cp_type = pl.col("channel").replace_strict(rules.channel_type, default=None, return_dtype=pl.String)
    decisions = decisions.with_columns(cp_type.alias("contact_point_type")).with_columns(
        pl.when((pl.col("id_type") == pl.col("contact_point_type")) & pl.col("id_value").is_not_null())
        .then(pl.col("id_value"))
        .when(pl.col("contact_point_type") == "phone")
        .then(pl.col("ds_phone"))
        .otherwise(pl.lit(None, pl.String))
        .alias("cp_raw")
    )
    return _rejected(
        batch,
        rel,
        decisions,
        pl.col("cp_raw").is_null() & pl.col("party_id").is_null(),
        "no_contact_point",
        pl.format("{} {}: no identifier, Phone or CustomerId for it", pl.col("purpose"), pl.col("channel")),
        flawed,
    )


def _profiles(rows: pl.DataFrame) -> pl.DataFrame:
    """Who the receipt is about, as the form knows them (geoLocation.country is the subject's country)."""
    return rows.select(
        *LINEAGE_COLS,
        "party_id",
        pl.when(pl.col("id_type") == "email").then(pl.col("id_value")).alias("email_raw"),
        pl.coalesce(pl.when(pl.col("id_type") == "phone").then(pl.col("id_value")), pl.col("ds_phone")).alias(
            "phone_raw"
        ),
        pl.col("country").alias("cp_region"),
        "country",
        "first_name",
        "last_name",
        pl.col("ts").alias("observed_ts"),
    )
