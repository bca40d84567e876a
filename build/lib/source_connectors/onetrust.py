"""OneTrust consent receipts from the dealer web forms (feeds.md §9): `receipts_*.json`.

A file holds a JSON array of receipts (or any shape the shared JSON reader reads), or the data-subject
profile export, whose receipts sit in an envelope (`{"content": [...]}`: the keys are `rules/files.yaml`
`envelopes`). One receipt is one record. An object with none of a receipt's fields is quarantined
(`unrecognised_record`), never skipped.

Its source time is `interactionDate`, else `consentDate`; its brand the mapping's `brand`. Each element of
`purposes` maps its `Id` to a purpose (mapping `purposes`; an unknown Id is one rejected part
`unmapped_purpose`, whatever it decides). The purpose's `TransactionType` decides at purpose level: CONFIRMED
opt-in, WITHDRAWN / OPT_OUT / HARD_OPT_OUT opt-out (basis express), EXPIRED opt-out with basis `expired`,
PENDING pending; NOTGIVEN, NO_CHOICE, CHANGE_PREFERENCES, EXTEND, CANCEL and IMPLICIT decide nothing (implied
agreement on a web page is not consent to marketing). `Preferences` decide topic by topic (mapping `topics`
gives a TopicId's channel, GUIDs matched whatever their case; a TopicId that is a channel name is that
channel; an unknown TopicId is a rejected part `unmapped_topic`): OPT_IN / OPT_OUT override the purpose
level for that channel. `CustomPreferences` decide only what mapping `custom_preferences` says of their
selected options (a decided option overrides the purpose level for its channel, as a topic does); an
unknown Id or option is a rejected part `unmapped_preference`. The mapping's `default_channels` without a
topic keep the purpose level. A TransactionType outside these lists is a rejected part
`unknown_transaction_type` (a topic holding one decides nothing for its channel: the purpose level is not
guessed for a channel the form asked about).

Fail safe: when a topic or custom preference of a purpose cannot be mapped, it might have decided any
channel of that purpose, so the purpose-level opt-in (or pending) applies to no channel without a mapped
topic, while its opt-outs still apply. An unmapped purpose might be any purpose: none of its receipt's
opt-ins apply (its opt-outs do).

Who each channel decision is about: the identifier when it is of the channel's type (Email: email; Phone:
sms and voice); else `dsDataElements.Phone` for a phone channel (parsed with `geoLocation.country`); else
the customer (`dsDataElements.CustomerId`, a party-level decision); with none of them the part is rejected
(`no_contact_point`). Every event of a receipt carries the CustomerId as party_id when it is given. A
receipt with decisions also gives a `subject_profiles` row (names, country, email and phone), so that a
prospect gets a region. A receipt that decides nothing is skipped (`no_decision`).

A receipt whose time cannot be read keeps its decisions with no time: the core makes its opt-outs take
effect at the delivery's received_ts (estimated) and quarantines its opt-ins (`bad_timestamp`).

The receipts are decoded with a fixed schema (numbers read as text); if an element holds a field of an
unexpected JSON type (an object where a list belongs), the shared reader rejects that element alone
(`bad_json_type`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import OneTrustCustomPreference, OneTrustMap, OneTrustOption
from source_connectors._common import (
    envelopes,
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
CUSTOM = pl.Struct({"Id": S, "Options": pl.List(S)})
PURPOSE = pl.Struct(
    {"Id": S, "TransactionType": S, "Preferences": pl.List(PREFERENCE), "CustomPreferences": pl.List(CUSTOM)}
)
RECEIPT = pl.Struct(
    {
        "receiptId": S,
        "identifier": S,
        "identifierType": S,
        "interactionDate": S,
        "consentDate": S,
        "collectionPointId": S,
        "language": S,
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
PURPOSE_NO_DECISION = ("NOTGIVEN", "NO_CHOICE", "CHANGE_PREFERENCES", "EXTEND", "CANCEL", "IMPLICIT")
TOPIC_DECISIONS = {"OPT_IN": ("opt_in", "express"), "OPT_OUT": ("opt_out", "express")}
# identifierType -> the contact-point type it is.
IDENTIFIER_TYPES = {"email": "email", "phone": "phone"}
IGNORE = "ignore"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")
DECISION_COLS = (REC, "pidx", "purpose", "channel", "status", "basis")
KEY = (REC, "pidx")  # one purpose element of one receipt


def parse(delivery: Delivery, rules: Rules) -> Batch:
    env = envelopes(rules, SOURCE)

    def read(path: Path) -> Records:
        """The receipts with the fixed schema (elements whose fields have other JSON types are rejected)."""
        return read_json(path, RECEIPT, env)

    return parse_files(SOURCE, delivery, rules, KIND, read, _receipts)


def _receipts(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    m = rules.mapping(SOURCE)
    present = [pl.col(f.name).is_not_null() for f in RECEIPT.fields if f.name in rows.columns]
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.any_horizontal(present) if present else pl.lit(True),
        "unrecognised_record",
        "an object with none of a receipt's fields",
    )
    rows = _subject_fields(rows)
    flawed: list[pl.Series] = []
    purposes, unknown = _purposes(batch, rel, rows, m, flawed)
    decisions = _decisions(batch, rel, purposes, m, rules, flawed)
    # An unmapped purpose might be any purpose: none of its receipt's opt-ins apply, its opt-outs do.
    decisions = decisions.filter(~(pl.col(REC).is_in(unknown.implode()) & (pl.col("status") != "opt_out")))
    events = _subjects(batch, rel, decisions.join(rows, on=REC, how="inner"), rules, flawed)
    decided = events[REC].unique()
    rejected = pl.concat([pl.Series(REC, [], pl.Int64), *flawed]).unique()
    skip_records(
        batch,
        rel,
        rows.filter(~pl.col(REC).is_in(decided.implode()) & ~pl.col(REC).is_in(rejected.implode())),
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
            "time_detail",
        ),
    )
    # A profile for each receipt with a decision that takes effect (an undated opt-in does not).
    kept = events.filter(pl.col("ts").is_not_null() | (pl.col("status") == "opt_out"))[REC].unique()
    batch.add(
        "subject_profiles",
        _profiles(with_lineage(rows.filter(pl.col(REC).is_in(kept.implode())), delivery, rel, pl.col("receipt_id"))),
    )


def _subject_fields(rows: pl.DataFrame) -> pl.DataFrame:
    """Who the receipt is about and when: identifier and its type, Phone, CustomerId, names, country; an
    unreadable time is null, with what was read in `time_detail`."""
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
    ).with_columns(
        iso8601(pl.col("time_text")).alias("ts"),
        pl.when(pl.col("time_text").is_null())
        .then(pl.lit("interactionDate and consentDate are empty"))
        .otherwise(pl.format("{}: {}", pl.col("time_field"), pl.col("time_text")))
        .alias("time_detail"),
    )


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


def _lookup(expr: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    """An id's value in a mapping whose keys are matched whatever their case."""
    lowered = {k.strip().lower(): v for k, v in mapping.items()}
    return expr.str.strip_chars().str.to_lowercase().replace_strict(lowered, default=None, return_dtype=pl.String)


def _purposes(
    batch: Batch, rel: str, rows: pl.DataFrame, m: OneTrustMap, flawed: list[pl.Series]
) -> tuple[pl.DataFrame, pl.Series]:
    """One row per known purpose of a receipt (`pidx` tells two elements apart), with its purpose-level
    decision (null: none), Preferences and CustomPreferences; and the receipts with an unmapped purpose."""
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
            pl.col("purposes").struct.field("CustomPreferences").alias("custom"),
        )
        .with_columns(_lookup(pl.col("purpose_id"), m.purposes).alias("purpose"))
    )
    unknown = purposes.filter(pl.col("purpose").is_null())[REC].unique()
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
    ), unknown


def _topic_decisions(
    batch: Batch, rel: str, purposes: pl.DataFrame, m: OneTrustMap, rules: Rules, flawed: list[pl.Series]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The Preferences' decisions, the channels they ask about, and the purposes with an unmapped topic."""
    topic_map = {ch: ch for ch in rules.channels} | dict(m.topics)
    topics = (
        purposes.select(*KEY, "purpose", "preferences")
        .explode("preferences")
        .filter(pl.col("preferences").is_not_null())
        .with_columns(
            text(pl.col("preferences").struct.field("TopicId")).alias("topic"),
            text(pl.col("preferences").struct.field("TransactionType")).str.to_uppercase().alias("topic_tx"),
        )
        .with_columns(_lookup(pl.col("topic"), topic_map).alias("channel"))
    )
    unmapped = pl.col("channel").is_null()
    doubtful = topics.filter(unmapped).select(KEY)
    topics = _rejected(
        batch,
        rel,
        topics,
        unmapped,
        "unmapped_topic",
        pl.format("TopicId: {}", pl.col("topic").fill_null("")),
        flawed,
    )
    # A channel with a topic is the topic's to decide, even when its type cannot be read.
    asked = topics.select(*KEY, "channel")
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
    decided = topics.with_columns(
        pl.col("topic_tx").replace_strict(status, return_dtype=pl.String).alias("status"),
        pl.col("topic_tx").replace_strict(basis, return_dtype=pl.String).alias("basis"),
    ).select(DECISION_COLS)
    return decided, asked, doubtful


def _custom_decisions(
    batch: Batch, rel: str, purposes: pl.DataFrame, m: OneTrustMap, flawed: list[pl.Series]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The CustomPreferences' decisions (their selected options, as the mapping reads them), and the
    purposes with a custom preference or option the mapping does not know."""
    ignored = {k: IGNORE for k, v in m.custom_preferences.items() if not isinstance(v, OneTrustCustomPreference)}
    listed = {k: "options" for k, v in m.custom_preferences.items() if isinstance(v, OneTrustCustomPreference)}
    options = pl.DataFrame(
        [
            (
                pid.strip().lower(),
                oid.strip().lower(),
                *((o.channel, o.status) if isinstance(o, OneTrustOption) else (None, None)),
            )
            for pid, p in m.custom_preferences.items()
            if isinstance(p, OneTrustCustomPreference)
            for oid, o in p.options.items()
        ],
        schema={"pref_key": pl.String, "option_key": pl.String, "channel": pl.String, "status": pl.String},
        orient="row",
    ).with_columns(pl.lit(True).alias("known"))
    prefs = (
        purposes.select(*KEY, "purpose", "custom")
        .explode("custom")
        .filter(pl.col("custom").is_not_null())
        .with_columns(
            text(pl.col("custom").struct.field("Id")).alias("pref_id"),
            pl.col("custom").struct.field("Options").alias("options"),
        )
        .with_columns(
            _lookup(pl.col("pref_id"), ignored | listed).alias("pref_kind"),
            pl.col("pref_id").str.strip_chars().str.to_lowercase().alias("pref_key"),
        )
    )
    doubtful = [prefs.filter(pl.col("pref_kind").is_null()).select(KEY)]
    prefs = _rejected(
        batch,
        rel,
        prefs,
        pl.col("pref_kind").is_null(),
        "unmapped_preference",
        pl.format("CustomPreferences Id: {}", pl.col("pref_id").fill_null("")),
        flawed,
    )
    chosen = (
        prefs.filter(pl.col("pref_kind") == "options")
        .explode("options")
        .with_columns(text("options").alias("option_id"))
        .filter(pl.col("option_id").is_not_null())
        .with_columns(pl.col("option_id").str.to_lowercase().alias("option_key"))
        .join(options, on=["pref_key", "option_key"], how="left", maintain_order="left")
    )
    unmapped = pl.col("known").is_null()
    doubtful.append(chosen.filter(unmapped).select(KEY))
    chosen = _rejected(
        batch,
        rel,
        chosen,
        unmapped,
        "unmapped_preference",
        pl.format("CustomPreferences {} option: {}", pl.col("pref_id"), pl.col("option_id")),
        flawed,
    )
    decided = chosen.filter(pl.col("channel").is_not_null()).with_columns(pl.lit("express").alias("basis"))
    return decided.select(DECISION_COLS), pl.concat(doubtful)


def _decisions(
    batch: Batch, rel: str, purposes: pl.DataFrame, m: OneTrustMap, rules: Rules, flawed: list[pl.Series]
) -> pl.DataFrame:
    """One row per channel decided: the topics' and custom preferences' own decisions, then the purpose
    level on the default channels that none of them decides. A purpose with a topic or custom preference
    that could not be mapped gives its purpose-level opt-outs only (fail safe)."""
    by_topic, asked, doubtful = _topic_decisions(batch, rel, purposes, m, rules, flawed)
    by_option, unsure = _custom_decisions(batch, rel, purposes, m, flawed)
    asked = pl.concat([asked, by_option.select(*KEY, "channel")])
    doubtful = pl.concat([doubtful, unsure]).unique()
    defaults = pl.DataFrame({"channel": m.default_channels}, schema={"channel": pl.String})
    by_purpose = (
        purposes.filter(pl.col("status").is_not_null())
        .join(doubtful.with_columns(pl.lit(True).alias("doubtful")), on=list(KEY), how="left")
        .filter(pl.col("doubtful").is_null() | (pl.col("status") == "opt_out"))
        .join(defaults, how="cross")
        .join(asked, on=[*KEY, "channel"], how="anti")
        .select(DECISION_COLS)
    )
    return pl.concat([by_topic, by_option, by_purpose]).sort(REC, "pidx", "channel")


def _subjects(batch: Batch, rel: str, decisions: pl.DataFrame, rules: Rules, flawed: list[pl.Series]) -> pl.DataFrame:
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
    """Who the receipt is about, as the form knows them (geoLocation.country is the subject's country),
    observed at the receipt's time (an undated receipt: when its delivery was received)."""
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
        pl.coalesce("ts", "received_ts").alias("observed_ts"),
    )
