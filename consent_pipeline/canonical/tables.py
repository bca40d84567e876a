"""Canonical tables: columns, types, contact-point columns to normalise, and the columns that identify a row.

Connectors emit these frames (with the `*_raw` contact columns filled in); the normalise stage turns raw
contact points into normalised ones; the event log deduplicates by a hash of `identity` columns.
Times are naive UTC (`Datetime("us")`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

TS = pl.Datetime("us")

# Where every row came from. `source_record` is the 1-based record number within the file
# (a CSV data row, a JSON line or array element, a fixed-width record).
LINEAGE: dict[str, pl.DataType] = {
    "source": pl.String(),
    "delivery": pl.String(),
    "received_ts": TS,
    "source_file": pl.String(),
    "source_record": pl.Int64(),
    "source_record_id": pl.String(),
}


@dataclass(frozen=True)
class ContactColumn:
    """A raw contact point in a connector's frame and where its normalised value goes.

    `kind` is a contact-point type (`email`, `phone`, `postal`) or the name of a column holding it.
    `region` names the column with the ISO country used to parse national phone numbers.
    """

    raw: str
    out: str
    kind: str
    region: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: dict[str, pl.DataType]
    identity: tuple[str, ...]
    contacts: tuple[ContactColumn, ...] = ()
    # After normalisation a row is kept when: all given contact points are valid ("all"), at least one is
    # ("any"), or always, with invalid contact points just left empty ("none").
    keep_row: Literal["all", "any", "none"] = "none"
    # Columns holding source times that must obey the future/past rule.
    times: tuple[str, ...] = ()
    # Columns that must not be empty.
    required: tuple[str, ...] = ()
    # Whether a row makes its record count as accepted in the ledger (a subject profile alone does not:
    # it is side information about a record that yields something else).
    counts_as_part: bool = True
    raw_columns: dict[str, pl.DataType] = field(default_factory=dict)
    # (time column, flag column): rows with the flag set leave the time out of their identity.
    sighting: tuple[str, str] | None = None
    # Columns added after rows were stored: part of the identity only when set, so stored rows keep their ids.
    identity_when_set: tuple[str, ...] = ()

    @property
    def all_columns(self) -> dict[str, pl.DataType]:
        """Lineage + content columns as stored."""
        return {**LINEAGE, **self.columns}

    @property
    def input_columns(self) -> dict[str, pl.DataType]:
        """What a connector hands over: stored columns plus the raw contact columns."""
        return {**LINEAGE, **self.columns, **self.raw_columns}


S, B, INT, F = pl.String(), pl.Boolean(), pl.Int64(), pl.Float64()


def _spec(
    name: str,
    columns: dict[str, pl.DataType],
    identity: tuple[str, ...],
    contacts: tuple[ContactColumn, ...] = (),
    keep_row: Literal["all", "any", "none"] = "none",
    times: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    counts_as_part: bool = True,
    inputs: dict[str, pl.DataType] | None = None,
    sighting: tuple[str, str] | None = None,
    identity_when_set: tuple[str, ...] = (),
) -> TableSpec:
    raw: dict[str, pl.DataType] = {}
    for c in contacts:
        raw[c.raw] = S
        if c.region:
            raw[c.region] = S
    raw |= inputs or {}
    raw = {k: v for k, v in raw.items() if k not in columns}
    return TableSpec(
        name, columns, identity, contacts, keep_row, times, required, counts_as_part, raw, sighting, identity_when_set
    )


_CP = ContactColumn("cp_raw", "contact_point", "contact_point_type", "cp_region")

EVENTS = _spec(
    "events",
    {
        "party_id": S,  # a customer id named by the source, if any
        "party_ref": S,  # a source-specific party reference resolved later (Salesforce Individual Id)
        "contact_point": S,  # null for party-level events
        "contact_point_type": S,  # email | phone | postal; null = every type
        "channel": S,  # a channel or *
        "purpose": S,  # a purpose node or *
        "brand": S,  # a brand or *
        "status": S,  # opt_in | opt_out | pending
        "basis": S,
        "event_ts": TS,
        "valid_until": TS,  # an end of validity the source states (Salesforce EffectiveTo)
        "double_opt_in": B,  # confirmed by double opt-in
        # The source gave no usable time: an opt-out takes effect at its delivery's received_ts.
        "event_ts_estimated": B,
        # Dated by the first delivery that showed it (a time no later delivery may move: an estimated
        # opt-out, a Mailchimp import dated at its first snapshot): event_ts is not part of its identity.
        "first_sighting": B,
        # A source's id of the contact point the event is about, named in contact_point_links (a Salesforce
        # ContactPointConsent's ContactPointId): the contact point, its type and party come from the link,
        # which may arrive in the same or another delivery (consent_events resolves it; until then it waits).
        "contact_point_ref": S,
    },
    identity=(
        "source",
        "party_id",
        "party_ref",
        "contact_point",
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
    contacts=(_CP,),
    keep_row="all",
    times=("event_ts",),
    required=("channel", "purpose", "brand", "status", "basis", "event_ts"),
    # What the connector could not read of the source time, for the quarantine row (core/ingest/event_times.py).
    inputs={"time_detail": S},
    sighting=("event_ts", "first_sighting"),
    identity_when_set=("contact_point_ref",),
)

CUSTOMER_RECORDS = _spec(
    "customer_records",
    {
        "customer_id": S,
        "household_id": S,
        "is_primary_holder": B,
        "first_name": S,
        "last_name": S,
        "email": S,
        "mobile_phone": S,
        "home_phone": S,
        "postal_address": S,
        "country": S,
        "customer_type": S,
        "brands": S,  # ;-separated brand ids
        "created_at": TS,
        "updated_at": TS,
    },
    identity=(
        "customer_id",
        "household_id",
        "is_primary_holder",
        "first_name",
        "last_name",
        "email",
        "mobile_phone",
        "home_phone",
        "postal_address",
        "country",
        "customer_type",
        "brands",
        "created_at",
        "updated_at",
    ),
    contacts=(
        ContactColumn("email_raw", "email", "email"),
        ContactColumn("mobile_raw", "mobile_phone", "phone", "country"),
        ContactColumn("home_raw", "home_phone", "phone", "country"),
        ContactColumn("postal_raw", "postal_address", "postal"),
    ),
    times=("updated_at",),
    required=("customer_id", "customer_type", "updated_at"),
)

PARTY_LINKS = _spec(
    "party_links",
    {"source_party_id": S, "party_id": S, "linked_at": TS},
    identity=("source", "source_party_id", "party_id", "linked_at"),
    times=("linked_at",),
    required=("source_party_id", "party_id"),
)

# A source's contact-point record (Salesforce ContactPointEmail / ContactPointPhone): its id, the address or
# number, and its party (the Individual). Events name it by `contact_point_ref`; the latest link of an id wins.
CONTACT_POINT_LINKS = _spec(
    "contact_point_links",
    {"source_point_id": S, "party_ref": S, "contact_point": S, "contact_point_type": S, "linked_at": TS},
    identity=("source", "source_point_id", "party_ref", "contact_point", "contact_point_type", "linked_at"),
    contacts=(_CP,),
    keep_row="all",
    times=("linked_at",),
    required=("source_point_id", "contact_point_type"),
)

SUBJECT_PROFILES = _spec(
    "subject_profiles",
    {
        "party_id": S,
        "email": S,
        "phone": S,
        "country": S,
        "first_name": S,
        "last_name": S,
        "observed_ts": TS,
    },
    identity=("source", "party_id", "email", "phone", "country", "first_name", "last_name", "observed_ts"),
    contacts=(
        ContactColumn("email_raw", "email", "email"),
        ContactColumn("phone_raw", "phone", "phone", "cp_region"),
    ),
    keep_row="any",
    times=("observed_ts",),
    required=("observed_ts",),
    counts_as_part=False,
)

CONTACT_EVIDENCE = _spec(
    "contact_evidence",
    {"party_id": S, "contact_point": S, "contact_point_type": S, "kind": S, "evidence_ts": TS},
    identity=("source", "party_id", "contact_point", "kind", "evidence_ts"),
    contacts=(_CP,),
    keep_row="all",
    times=("evidence_ts",),
    required=("kind", "evidence_ts"),
)

UNDELIVERABLE = _spec(
    "undeliverable",
    {
        "contact_point": S,
        "contact_point_type": S,
        "since_ts": TS,
        "reason": S,
        "detail": S,
        # The source gave no usable time: since_ts is the first delivery that showed it (a Mailchimp cleaned
        # member without CLEAN_TIME), and a later delivery of the same record is a duplicate.
        "first_sighting": B,
    },
    identity=("source", "contact_point", "since_ts", "reason"),
    contacts=(_CP,),
    keep_row="all",
    times=("since_ts",),
    required=("since_ts", "reason"),
    sighting=("since_ts", "first_sighting"),
)

REGISTRY_SNAPSHOTS = _spec(
    "registry_snapshots",
    # file_sha256: the file's bytes, so that a delivery re-dropped unchanged is known (it refreshes nothing)
    {"registry": S, "country": S, "snapshot_ts": TS, "listed": INT, "file_sha256": S},
    identity=("registry", "delivery", "source_file"),
    required=("registry", "snapshot_ts"),
)

REGISTRY_LISTINGS = _spec(
    "registry_listings",
    {"registry": S, "contact_point": S, "contact_point_type": S, "snapshot_ts": TS},
    identity=("registry", "delivery", "contact_point"),
    contacts=(_CP,),
    keep_row="all",
    required=("registry", "snapshot_ts"),
)

ERASURE_REQUESTS = _spec(
    "erasure_requests",
    {
        "request_id": S,
        "regulation": S,
        "party_id": S,
        "contact_point": S,
        "contact_point_type": S,
        "requested_at": TS,
    },
    identity=("source", "request_id", "party_id", "contact_point", "requested_at"),
    contacts=(_CP,),
    keep_row="all",
    times=("requested_at",),
    required=("requested_at",),
)

ACTIVITY = _spec(
    "activity",
    {
        "activity_id": S,
        "party_id": S,
        "brand": S,
        "kind": S,  # purchase | inquiry | contract_start | contract_end | cancellation
        "occurred_at": TS,
        "amount": F,
        "currency": S,
        "email": S,
        "phone": S,
    },
    identity=("source", "activity_id", "party_id", "brand", "kind", "occurred_at", "amount", "currency"),
    contacts=(
        ContactColumn("email_raw", "email", "email"),
        ContactColumn("phone_raw", "phone", "phone", "cp_region"),
    ),
    times=("occurred_at",),
    required=("activity_id", "brand", "kind", "occurred_at"),
)

SENDS = _spec(
    "sends",
    {
        "send_id": S,
        "channel": S,
        "brand": S,
        "campaign_id": S,
        "purpose": S,
        "contact_point": S,
        "contact_point_type": S,
        "sent_at": TS,
    },
    identity=("source", "send_id", "channel", "brand", "campaign_id", "purpose", "contact_point", "sent_at"),
    contacts=(_CP,),
    keep_row="all",
    times=("sent_at",),
    required=("send_id", "channel", "brand", "purpose", "sent_at"),
)

REVIEWS = _spec(
    "reviews",
    {"party_id": S, "party_ref": S, "reviewed_at": TS},  # party_ref as in events (Salesforce)
    identity=("source", "party_id", "party_ref", "reviewed_at"),
    times=("reviewed_at",),
    required=("reviewed_at",),
)

STORES = _spec(
    "stores",
    {"store_id": S, "brand": S, "country": S, "timezone": S, "date_format": S},
    identity=("store_id", "brand", "country", "timezone", "date_format"),
    required=("store_id", "brand", "timezone", "date_format"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        EVENTS,
        CUSTOMER_RECORDS,
        PARTY_LINKS,
        CONTACT_POINT_LINKS,
        SUBJECT_PROFILES,
        CONTACT_EVIDENCE,
        UNDELIVERABLE,
        REGISTRY_SNAPSHOTS,
        REGISTRY_LISTINGS,
        ERASURE_REQUESTS,
        ACTIVITY,
        SENDS,
        REVIEWS,
        STORES,
    )
}

# A record (or a part of one) that could not be read or validated.
REJECTS: dict[str, pl.DataType] = {
    "source_file": S,
    "source_record": INT,  # null for file-level problems
    "reason": S,
    "detail": S,  # which part and value, for a rejected part
    "raw": S,  # filled in from the file's records when not set by the connector
    "contact_point": S,  # the normalised contact point the record names, if known (for erasure)
    "party_id": S,
}

# A record that carries no consent and no fact (counted, not kept).
SKIPS: dict[str, pl.DataType] = {"source_file": S, "source_record": INT, "reason": S}


def empty(columns: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=columns)


def conform(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select `columns` in order, casting each and adding missing ones as nulls."""
    if frame.width == 0:
        return empty(columns)
    missing = [pl.lit(None, dtype).alias(n) for n, dtype in columns.items() if n not in frame.columns]
    # with_columns keeps the frame's height (a select of literals alone would make one row)
    return frame.with_columns(missing).select([pl.col(n).cast(dtype) for n, dtype in columns.items()])
