"""Salesforce consent data model, Data Loader CSV exports (feeds.md §2).

`Individual_*.csv`: each row links a Salesforce Individual to a customer id (`party_links`); "Don't Market"
(`HasOptedOutSolicit`) is a party-level opt-out and `ShouldForget` an erasure request.
`ContactPointTypeConsent_*.csv`: each row with a decision is a party-level event for one purpose, one
channel (or `*`: every channel of the ContactPointType) and one brand (or `*`), and a review of the party.
The party is the Individual (`party_ref`); its customer id is filled in when the Individual is in the same
delivery, else the core resolves it through `party_links`.
`ContactPointConsent_*.csv`: the same decisions for one email address or phone number, named by
`ContactPointId`: a `ContactPointEmail` / `ContactPointPhone` record of the same or another delivery, kept
as `contact_point_links` (its address or number and its Individual). The event carries the id
(`contact_point_ref`) and the core resolves it, so a consent whose contact point arrives later waits.

Lookups (channel, purpose, brand) come by name, by record id (15 or 18 characters, matched on the first 15,
case-sensitive: rules `record_ids`) or by relationship name (`DataUsePurpose.Name`); a file carries any of
the forms. Salesforce ids that join records (Individual, contact points) are compared on their first 15
characters too: an 18-character id is its 15-character form plus a checksum suffix.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from source_connectors.readers import REC, Records, read_csv

SOURCE = "salesforce_consent"
# Their file patterns: rules/files.yaml.
KINDS = ("individuals", "type_consents", "point_consents", "point_emails", "point_phones")

ID_LENGTH, LONG_ID_LENGTH = 15, 18


@dataclass(frozen=True)
class Lookup:
    """A lookup field of a consent record, exported as a name, a record id or a relationship name."""

    field: str  # the name form, e.g. DataUsePurpose
    unmapped: str  # the quarantine reason of a name the rules do not know

    @property
    def forms(self) -> tuple[str, str, str]:
        return (self.field, f"{self.field}Id", f"{self.field}.Name")


CHANNEL = Lookup("EngagementChannelType", "unmapped_channel")
PURPOSE = Lookup("DataUsePurpose", "unmapped_purpose")
BRAND = Lookup("BusinessBrand", "unmapped_brand")
LOOKUPS = (CHANNEL, PURPOSE, BRAND)
LOOKUP_FORMS = tuple(f for lookup in LOOKUPS for f in lookup.forms)

IND_REQUIRED = ("Id", "CustomerId__c", "HasOptedOutSolicit", "ShouldForget", "LastModifiedDate")
# Every column that changes what a consent means is required, in one of its forms for a lookup (checked after
# reading, `_missing_lookups`): read as blank, a dropped EngagementChannelType or BusinessBrand would widen an
# opt-in to every channel or brand, a dropped CaptureSource would turn a spoken consent into a written one, a
# dropped EffectiveTo would make an ended opt-in last. A ContactPointConsent has no channel or brand by
# design (its standard export carries neither): it is about one contact point, on every channel of its type
# and for every brand, unless the file carries them.
TYPE_REQUIRED = ("Id", "PartyId", "ContactPointType", "PrivacyConsentStatus", "CaptureSource", "EffectiveTo")
TYPE_LOOKUPS = LOOKUPS
POINT_REQUIRED = ("Id", "ContactPointId", "PrivacyConsentStatus", "CaptureSource", "EffectiveTo")
POINT_LOOKUPS = (PURPOSE,)
# The source time is the first of these that is set (a blank CaptureDate falls back); without
# DoubleConsentCaptureDate an opt-in reads as single opt-in: the stricter reading.
TIMES = ("CaptureDate", "EffectiveFrom", "LastModifiedDate")
CONSENT_OPTIONAL = (*LOOKUP_FORMS, *TIMES, "DoubleConsentCaptureDate", "IsDeleted")
IND_OPTIONAL = ("IsDeleted",)
POINT_REQUIRED_BY_KIND = {
    "point_emails": ("Id", "ParentId", "EmailAddress"),
    "point_phones": ("Id", "ParentId"),
}
# A phone record's number: Salesforce's international form when the export has it, else as typed.
PHONE_COLUMNS = ("FormattedInternationalPhoneNumber", "TelephoneNumber")
POINT_OPTIONAL = ("LastModifiedDate", "IsDeleted", *PHONE_COLUMNS)

# Salesforce's PrivacyConsentStatus picklist (the product's vocabulary, not the company's): API values and
# labels (`OptIn`, `Opt In`), any case, compared without spaces.
DECISIONS = {"optin": "opt_in", "optout": "opt_out"}
NO_DECISION = ("notseen", "seen")
TRUE_VALUES, FALSE_VALUES = ("true", "1"), ("false", "0")

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, KINDS)
    unexpected_files(batch, delivery, [p for paths in files.values() for p in paths])
    # Individuals first: their customer ids name the parties of this delivery's consents; then the contact
    # points, whose Individuals name the parties of this delivery's contact-point consents (for reviews).
    links: list[pl.DataFrame] = []
    each_file(
        batch,
        delivery,
        files["individuals"],
        lambda path: read_csv(path, IND_REQUIRED, IND_OPTIONAL),
        lambda part, rel, records: (
            links.append(_individuals(part, delivery, rel, records.frame, rules)) if records.frame.height else None
        ),
    )
    customers = _latest(links, "party_ref", "party_id")
    points: list[pl.DataFrame] = []
    for kind, cp_type in (("point_emails", "email"), ("point_phones", "phone")):
        each_file(
            batch,
            delivery,
            files[kind],
            lambda path, kind=kind: read_csv(path, POINT_REQUIRED_BY_KIND[kind], POINT_OPTIONAL),
            lambda part, rel, records, cp_type=cp_type: (
                points.append(_contact_points(part, delivery, rel, records.frame, cp_type))
                if records.frame.height
                else None
            ),
        )
    point_parties = _latest(points, "contact_point_ref", "party_ref")
    each_file(
        batch,
        delivery,
        files["type_consents"],
        lambda path: read_csv(path, TYPE_REQUIRED, CONSENT_OPTIONAL),
        lambda part, rel, records: _type_consents(part, delivery, rel, records, rules, customers),
    )
    each_file(
        batch,
        delivery,
        files["point_consents"],
        lambda path: read_csv(path, POINT_REQUIRED, CONSENT_OPTIONAL),
        lambda part, rel, records: _point_consents(part, delivery, rel, records, rules, customers, point_parties),
    )
    return batch


# --- shared ---------------------------------------------------------------------------------------


def sf_id(col: str) -> pl.Expr:
    """A Salesforce record id in its 15-character form: an 18-character id without its checksum suffix."""
    value = text(col)
    return pl.when(value.str.len_chars() == LONG_ID_LENGTH).then(value.str.slice(0, ID_LENGTH)).otherwise(value)


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


def _not_deleted(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Skip deleted records (`IsDeleted=true`, from an "Export All"); the others, with `deleted` (null: a
    value that is neither true nor false)."""
    rows = rows.with_columns(_flag("IsDeleted").alias("deleted"))
    skip_records(batch, rel, rows.filter(pl.col("deleted").fill_null(False)), "deleted")
    return rows.filter(~pl.col("deleted").fill_null(False))


def _bad_deleted(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Records whose IsDeleted cannot be read may be deleted: rejected."""
    return reject_where(
        batch,
        rel,
        rows,
        pl.col("deleted").is_null(),
        "bad_value",
        pl.format("IsDeleted: {}", pl.col("IsDeleted")),
    )


def _latest(frames: list[pl.DataFrame], key: str, value: str) -> pl.DataFrame:
    """key -> value over the delivery's files (the last row of a key wins)."""
    frame = pl.concat(frames) if frames else pl.DataFrame(schema={key: pl.String, value: pl.String})
    return frame.unique(key, keep="last", maintain_order=True)


def _detail(col: str) -> pl.Expr:
    return pl.format(f"{col}: {{}}", pl.col(col).fill_null(""))


# --- Individual ---------------------------------------------------------------------------------


def _individuals(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    rows = _not_deleted(batch, rel, rows)
    rows = rows.with_columns(
        sf_id("Id").alias("party_ref"),
        text("CustomerId__c").alias("party_id"),
        iso8601(pl.col("LastModifiedDate")).alias("ts"),
        _flag("HasOptedOutSolicit").alias("dont_market"),
        _flag("ShouldForget").alias("forget"),
    )
    rows = reject_where(batch, rel, rows, pl.col("party_ref").is_null(), "missing_value", "Id is empty")
    rows = reject_where(batch, rel, rows, pl.col("party_id").is_null(), "missing_value", "CustomerId__c is empty")
    base = with_lineage(rows, delivery, rel, text("Id"))
    # "Don't Market" is an opt-out: it stands on a record that may be deleted, and without a usable time it
    # takes effect at the delivery's time (estimated: core/ingest/event_times.py).
    batch.add("events", _dont_market(base.filter(pl.col("dont_market")), rules))
    # Nothing else of a record that may be deleted is read (a rejected part when it opted out).
    rows = _bad_deleted(batch, rel, rows)
    # The link holds whatever the time: consents of this delivery still find their customer.
    links = rows.select("party_ref", "party_id")
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
    base = with_lineage(rows, delivery, rel, text("Id"))
    # The link and the erasure need their time.
    timed = reject_where(
        batch,
        rel,
        base,
        pl.col("ts").is_null(),
        "bad_timestamp",
        _detail("LastModifiedDate"),
    )
    batch.add(
        "party_links",
        timed.select(
            *LINEAGE_COLS,
            pl.col("party_ref").alias("source_party_id"),
            "party_id",
            pl.col("ts").alias("linked_at"),
        ),
    )
    batch.add(
        "erasure_requests",
        timed.filter(pl.col("forget")).select(
            *LINEAGE_COLS,
            text("Id").alias("request_id"),
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
        _detail("LastModifiedDate").alias("time_detail"),
    )


# --- ContactPointEmail / ContactPointPhone ------------------------------------------------------


def _contact_points(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, cp_type: str) -> pl.DataFrame:
    """One link per contact-point record: its id, address or number, and Individual. Returns id -> party."""
    rows = _bad_deleted(batch, rel, _not_deleted(batch, rel, rows))
    number = (
        text("EmailAddress")
        if cp_type == "email"
        else pl.coalesce(text("FormattedInternationalPhoneNumber"), text("TelephoneNumber"))
    )
    rows = rows.with_columns(
        sf_id("Id").alias("source_point_id"),
        sf_id("ParentId").alias("party_ref"),
        number.alias("cp_raw"),
        iso8601(pl.col("LastModifiedDate")).alias("linked_at"),
    )
    rows = reject_where(batch, rel, rows, pl.col("source_point_id").is_null(), "missing_value", "Id is empty")
    what = "EmailAddress" if cp_type == "email" else "TelephoneNumber"
    rows = reject_where(batch, rel, rows, pl.col("cp_raw").is_null(), "missing_value", f"{what} is empty")
    # Rejected parts, the link stands: without its Individual, the consents naming it can only restrict (an
    # opt-in needs its party to own the contact point); without a time, it is the oldest link of its id.
    reject_where(
        batch,
        rel,
        rows,
        pl.col("party_ref").is_null(),
        "missing_value",
        "ParentId is empty: opt-ins for this contact point cannot apply",
    )
    reject_where(
        batch,
        rel,
        rows,
        text("LastModifiedDate").is_not_null() & pl.col("linked_at").is_null(),
        "bad_timestamp",
        _detail("LastModifiedDate"),
    )
    base = with_lineage(rows, delivery, rel, text("Id"))
    batch.add(
        "contact_point_links",
        base.select(
            *LINEAGE_COLS,
            "source_point_id",
            "party_ref",
            "cp_raw",
            pl.lit(cp_type).alias("contact_point_type"),
            "linked_at",
        ),
    )
    return rows.select(pl.col("source_point_id").alias("contact_point_ref"), "party_ref")


# --- ContactPointTypeConsent / ContactPointConsent ----------------------------------------------


def _missing_lookups(records: Records, lookups: tuple[Lookup, ...]) -> list[Lookup]:
    have = {c.strip().casefold() for c in records.columns}
    return [lk for lk in lookups if not any(f.casefold() in have for f in lk.forms)]


def _present(records: Records, lookup: Lookup) -> list[str]:
    """The forms of a lookup the file's header has (its columns, as the reader names them)."""
    have = {c.strip().casefold() for c in records.columns}
    return [f for f in lookup.forms if f.casefold() in have]


def _decisions(
    batch: Batch, rel: str, records: Records, lookups: tuple[Lookup, ...], forms_required: tuple[Lookup, ...]
) -> pl.DataFrame | None:
    """The file's records that carry a decision (`status`), or None when the file lacks a column that
    changes what a consent means (then every record is rejected, `missing_column`)."""
    rows = records.frame
    missing = _missing_lookups(records, forms_required)
    if missing:
        names = "; ".join(" or ".join(lk.forms) for lk in missing)
        reject_where(batch, rel, rows, pl.lit(True), "missing_column", f"missing column(s): {names}")
        return None
    rows = _not_deleted(batch, rel, rows)
    status = text("PrivacyConsentStatus").str.to_lowercase().str.replace_all(r"[\s_-]", "")
    rows = rows.with_columns(status.alias("sf_status"))
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
        _detail("PrivacyConsentStatus"),
    )
    rows = rows.with_columns(pl.col("sf_status").replace_strict(DECISIONS, return_dtype=pl.String).alias("status"))
    # A record that may be deleted: its opt-out still stands (a rejected part), its opt-in does not.
    opt_out = pl.col("status") == "opt_out"
    unsure = pl.col("deleted").is_null()
    reject_where(batch, rel, rows, unsure & opt_out, "bad_value", pl.format("IsDeleted: {}", pl.col("IsDeleted")))
    return reject_where(
        batch, rel, rows, unsure & ~opt_out, "bad_value", pl.format("IsDeleted: {}", pl.col("IsDeleted"))
    )


def _type_consents(
    batch: Batch, delivery: Delivery, rel: str, records: Records, rules: Rules, customers: pl.DataFrame
) -> None:
    if not records.frame.height:
        return
    rows = _decisions(batch, rel, records, TYPE_LOOKUPS, TYPE_LOOKUPS)
    if rows is None:
        return
    rows = rows.with_columns(sf_id("PartyId").alias("party_ref"))
    rows = reject_where(batch, rel, rows, pl.col("party_ref").is_null(), "missing_value", "PartyId is empty")
    rows = _lookups(batch, rel, rows, records, rules)
    rows = _channel_type(batch, rel, rows, rules)
    rows = _times(batch, rel, rows)
    rows = rows.join(customers, on="party_ref", how="left", maintain_order="left")
    base = with_lineage(_basis(rows, rules), delivery, rel, text("Id"))
    batch.add("events", base.select(*LINEAGE_COLS, "party_id", "party_ref", *EVENT_COLS))
    _reviews(batch, base)


def _point_consents(
    batch: Batch,
    delivery: Delivery,
    rel: str,
    records: Records,
    rules: Rules,
    customers: pl.DataFrame,
    point_parties: pl.DataFrame,
) -> None:
    if not records.frame.height:
        return
    rows = _decisions(batch, rel, records, LOOKUPS, POINT_LOOKUPS)
    if rows is None:
        return
    rows = rows.with_columns(sf_id("ContactPointId").alias("contact_point_ref"))
    rows = reject_where(
        batch, rel, rows, pl.col("contact_point_ref").is_null(), "missing_value", "ContactPointId is empty"
    )
    rows = _lookups(batch, rel, rows, records, rules)
    # The contact point's type, and its party, come from its ContactPointEmail / ContactPointPhone record.
    rows = _times(batch, rel, rows.with_columns(pl.lit(None, pl.String).alias("contact_point_type")))
    base = with_lineage(_basis(rows, rules), delivery, rel, text("Id"))
    batch.add("events", base.select(*LINEAGE_COLS, "contact_point_ref", *EVENT_COLS))
    # A review of the party when this delivery names it (the event's party is resolved by the core).
    reviewed = base.join(point_parties, on="contact_point_ref", how="inner", maintain_order="left")
    reviewed = reviewed.join(customers, on="party_ref", how="left", maintain_order="left")
    _reviews(batch, reviewed)


EVENT_COLS = (
    "contact_point_type",
    "channel",
    "purpose",
    "brand",
    "status",
    "basis",
    "event_ts",
    "valid_until",
    "double_opt_in",
    "time_detail",
)


def _basis(rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    verbal = [s.strip().lower() for s in rules.mapping(SOURCE).verbal_capture_sources]
    return rows.with_columns(
        pl.when(text("CaptureSource").str.to_lowercase().is_in(verbal))
        .then(pl.lit("express_verbal"))
        .otherwise(pl.lit("express"))
        .alias("basis"),
        text("DoubleConsentCaptureDate").is_not_null().alias("double_opt_in"),
    )


def _reviews(batch: Batch, base: pl.DataFrame) -> None:
    """A decision is a review of the party's preferences, at its source time (none without one)."""
    batch.add(
        "reviews",
        base.filter(pl.col("event_ts").is_not_null()).select(
            *LINEAGE_COLS, "party_id", "party_ref", pl.col("event_ts").alias("reviewed_at")
        ),
    )


def _lookups(batch: Batch, rel: str, rows: pl.DataFrame, records: Records, rules: Rules) -> pl.DataFrame:
    """Channel (blank or absent: `*`), purpose and brand (blank or absent: `*`) of each consent, from
    whichever forms the file has (`<lookup>_name` keeps the Salesforce name)."""
    m = rules.mapping(SOURCE)
    names = {CHANNEL: m.engagement_channels, PURPOSE: m.data_use_purposes, BRAND: rules.brand_by_display_name}
    ids = {
        CHANNEL: m.record_ids.engagement_channels,
        PURPOSE: m.record_ids.data_use_purposes,
        BRAND: m.record_ids.business_brands,
    }
    for lookup, out in ((CHANNEL, "channel"), (PURPOSE, "purpose"), (BRAND, "brand")):
        rows = _lookup(batch, rel, rows, lookup, out, _present(records, lookup), names[lookup], ids[lookup])
    rows = reject_where(batch, rel, rows, pl.col("purpose_name").is_null(), "missing_value", "DataUsePurpose is empty")
    return rows.with_columns(pl.col("channel").fill_null("*"), pl.col("brand").fill_null("*"))


def _lookup(
    batch: Batch,
    rel: str,
    rows: pl.DataFrame,
    lookup: Lookup,
    out: str,
    present: list[str],
    names: dict[str, str],
    ids: dict[str, str],
) -> pl.DataFrame:
    """Columns `<out>_name` (the record's Salesforce name; null when blank or absent) and `<out>` (what the
    name maps to: `names`, by name; `ids`, by record id). An id the rules do not list is `unmapped_value`;
    forms that name different records are a `bad_value`; a name the rules do not know is `unmapped_<lookup>`:
    each rejects the record."""
    if not present:
        return rows.with_columns(pl.lit(None, pl.String).alias(f"{out}_name"), pl.lit(None, pl.String).alias(out))
    id_col = f"{lookup.field}Id"
    named: list[pl.Expr] = []
    for form in present:
        if form != id_col:
            named.append(text(form))
            continue
        raw = text(form)
        key = pl.when(raw.str.len_chars().is_in([ID_LENGTH, LONG_ID_LENGTH])).then(raw.str.slice(0, ID_LENGTH))
        by_id = key.replace_strict(ids, default=None, return_dtype=pl.String)
        rows = reject_where(batch, rel, rows, raw.is_not_null() & by_id.is_null(), "unmapped_value", _detail(form))
        named.append(by_id)
    detail = pl.concat_str(
        [pl.when(text(f).is_not_null()).then(pl.format(f"{f}: {{}}", text(f))) for f in present],
        separator=", ",
        ignore_nulls=True,
    )
    rows = rows.with_columns(pl.coalesce(named).alias(f"{out}_name"))
    if len(named) > 1:
        disagree = pl.any_horizontal([(n != pl.col(f"{out}_name")).fill_null(False) for n in named])
        rows = reject_where(batch, rel, rows, disagree, "bad_value", detail)
    rows = rows.with_columns(
        pl.col(f"{out}_name").replace_strict(names, default=None, return_dtype=pl.String).alias(out)
    )
    return reject_where(
        batch, rel, rows, pl.col(f"{out}_name").is_not_null() & pl.col(out).is_null(), lookup.unmapped, detail
    )


def _channel_type(batch: Batch, rel: str, rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """The contact-point type a type consent covers.

    Channel `*` means every channel of the ContactPointType, so that type must be one we know. With a
    channel, the channel says the type (a Social or Web ContactPointType is fine), and a known
    ContactPointType must agree with it.
    """
    m = rules.mapping(SOURCE)
    rows = rows.with_columns(
        text("ContactPointType")
        .replace_strict(m.contact_point_types, default=None, return_dtype=pl.String)
        .alias("sf_type"),
        pl.col("channel")
        .replace_strict(rules.channel_type, default=None, return_dtype=pl.String)
        .alias("channel_type"),
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
        ~star & pl.col("sf_type").is_not_null() & (pl.col("sf_type") != pl.col("channel_type")).fill_null(True),
        "bad_value",
        pl.format(
            "ContactPointType {} with EngagementChannelType {}",
            pl.col("ContactPointType"),
            pl.col("channel_name"),
        ),
    )
    return rows.with_columns(
        pl.when(star).then(pl.col("sf_type")).otherwise(pl.col("channel_type")).alias("contact_point_type")
    )


def _times(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """The source time: CaptureDate, or when it is blank EffectiveFrom, then LastModifiedDate. The first one
    set decides: one that cannot be read is not replaced by a later field, and the event goes to the core
    without a time (an opt-out then takes effect at the delivery's time, estimated; an opt-in is
    quarantined). EffectiveTo, when set, ends an opt-in (it may lie in the future)."""
    first = pl.coalesce([text(c) for c in TIMES])
    which = pl.coalesce([pl.when(text(c).is_not_null()).then(pl.lit(c)) for c in TIMES])
    rows = rows.with_columns(
        iso8601(first).alias("event_ts"),
        iso8601(pl.col("EffectiveTo")).alias("valid_until"),
        pl.when(first.is_null())
        .then(pl.lit(f"{', '.join(TIMES)}: all empty"))
        .otherwise(pl.format("{}: {}", which, first))
        .alias("time_detail"),
    )
    bad_end = text("EffectiveTo").is_not_null() & pl.col("valid_until").is_null()
    opt_out = pl.col("status") == "opt_out"
    # An opt-out has no end: it stands, and the unreadable part is quarantined. An opt-in that cannot say
    # when it ends would last for ever: rejected.
    reject_where(batch, rel, rows, bad_end & opt_out, "bad_timestamp", _detail("EffectiveTo"))
    return reject_where(batch, rel, rows, bad_end & ~opt_out, "bad_timestamp", _detail("EffectiveTo"))
