"""Mailchimp audience exports (feeds.md §3): `<status>_members_export_<audience>.csv` (older exports) and
`<status>_email_audience_export_<audience>.csv` (current ones): the patterns are rules (rules/files.yaml).

The audience id in the file name gives the brand and purpose. Subscribed members are opt-ins (confirmed by
double opt-in when CONFIRM_TIME is set, imported when neither OPTIN_TIME nor CONFIRM_TIME is: dated at the
first snapshot that showed them), unsubscribed members opt-outs (without a usable UNSUB_TIME: at the
delivery's time, estimated), cleaned members undeliverable addresses, nonsubscribed members (transactional
contacts) no decision. Each export is a full snapshot: a member seen again yields the same rows, which the
event log counts as duplicates.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import BrandPurpose
from source_connectors._common import (
    all_records_rejected,
    each_file,
    kinds_of,
    reject_where,
    skip_records,
    text,
    unexpected_files,
    wildcard,
    with_lineage,
)
from source_connectors._time import utc_text
from source_connectors.readers import REC, Records, read_csv

SOURCE = "mailchimp"
# Export kinds (their file patterns: rules/files.yaml). Nonsubscribed members are transactional contacts
# who never subscribed: no decision, skipped.
KINDS = ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")
EMAIL = "Email Address"
# The time columns each kind needs; the standard columns of every Mailchimp export.
REQUIRED = {
    "subscribed": (EMAIL, "OPTIN_TIME", "CONFIRM_TIME", "LAST_CHANGED"),
    "unsubscribed": (EMAIL, "UNSUB_TIME"),
    "cleaned": (EMAIL, "CLEAN_TIME"),
    "nonsubscribed": (EMAIL,),
}
OPTIONAL = ("First Name", "Last Name", "Phone Number", "CC", "LEID")

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, KINDS)
    unexpected_files(batch, delivery, [p for paths in files.values() for p in paths])
    patterns = rules.source_files(SOURCE).files
    for kind, paths in files.items():
        each_file(
            batch,
            delivery,
            paths,
            lambda path, kind=kind: read_csv(path, REQUIRED[kind], OPTIONAL),
            lambda part, rel, records, kind=kind: _read_file(
                part, delivery, rel, records, kind, wildcard(Path(rel), patterns[kind]), rules
            ),
        )
    return batch


def _read_file(
    batch: Batch, delivery: Delivery, rel: str, records: Records, kind: str, audience: str | None, rules: Rules
) -> None:
    if kind == "nonsubscribed":
        skip_records(batch, rel, records.frame, "nonsubscribed")
        return
    target = rules.mapping(SOURCE).audiences.get(audience or "")
    if target is None:
        # Nothing in the file can be placed: every record is rejected once, for the audience.
        all_records_rejected(batch, rel, records, "unmapped_audience", f"audience: {audience}")
        return
    if records.frame.height:
        _members(batch, delivery, rel, records.frame, kind, target)


def _when(kind: str) -> tuple[pl.Expr, pl.Expr]:
    """The name and text of the time column that dates a member's record."""
    if kind == "subscribed":
        confirm, optin = text("CONFIRM_TIME"), text("OPTIN_TIME")
        name = (
            pl.when(confirm.is_not_null())
            .then(pl.lit("CONFIRM_TIME"))
            .when(optin.is_not_null())
            .then(pl.lit("OPTIN_TIME"))
            .otherwise(pl.lit("LAST_CHANGED"))
        )
        return name, pl.coalesce(confirm, optin, text("LAST_CHANGED"))
    column = "UNSUB_TIME" if kind == "unsubscribed" else "CLEAN_TIME"
    return pl.lit(column), text(column)


def _members(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, kind: str, target: BrandPurpose) -> None:
    name, raw_time = _when(kind)
    rows = rows.with_columns(
        text(EMAIL).alias("email"), name.alias("time_column"), raw_time.alias("time_text")
    ).with_columns(
        utc_text(pl.col("time_text")).alias("ts"),
        pl.format("{}: {}", pl.col("time_column"), pl.col("time_text").fill_null("")).alias("time_detail"),
    )
    rows = reject_where(batch, rel, rows, pl.col("email").is_null(), "missing_value", f"{EMAIL} is empty")
    base = with_lineage(rows, delivery, rel, text("LEID")).with_columns(
        pl.col(EMAIL).alias("cp_raw"), pl.lit("email").alias("contact_point_type")
    )
    if kind == "cleaned":
        batch.add("undeliverable", _cleaned(base))
    else:
        # A time that cannot be read goes to the core as none: an opt-out then takes effect at the
        # delivery's time (estimated), an opt-in is quarantined (core/ingest/event_times.py).
        events = _events(base, kind, target)
        batch.add("events", events)
        batch.add(
            "contact_evidence",
            events.filter(pl.col("double_opt_in") & pl.col("event_ts").is_not_null()).select(
                *LINEAGE_COLS,
                "cp_raw",
                "contact_point_type",
                pl.lit("double_opt_in").alias("kind"),
                pl.col("event_ts").alias("evidence_ts"),
            ),
        )
    batch.add("subject_profiles", _profiles(base.filter(pl.col("ts").is_not_null())))


def _cleaned(base: pl.DataFrame) -> pl.DataFrame:
    """Undeliverable from CLEAN_TIME. Without a usable CLEAN_TIME the address is still undeliverable (a
    restriction is never dropped for want of a time): from the first delivery that showed it cleaned, which a
    later snapshot never moves."""
    unknown = pl.col("ts").is_null()
    return base.select(
        *LINEAGE_COLS,
        "cp_raw",
        "contact_point_type",
        pl.coalesce(pl.col("ts"), pl.col("received_ts")).alias("since_ts"),
        pl.lit("cleaned").alias("reason"),
        pl.when(unknown).then(pl.format("{} (dated at its first delivery)", pl.col("time_detail"))).alias("detail"),
        unknown.alias("first_sighting"),
    )


def _events(base: pl.DataFrame, kind: str, target: BrandPurpose) -> pl.DataFrame:
    """Contact-point events on the member's email for the audience's brand and purpose."""
    if kind == "subscribed":
        confirmed = text("CONFIRM_TIME").is_not_null()
        status = pl.lit("opt_in")
        # A member added by import (no opt-in time at all) brings no evidence of consent. Its only time is
        # LAST_CHANGED, which any profile edit moves: the opt-in is dated at the first snapshot that showed
        # it, and a later snapshot is the same event (its time is not part of the identity), never a re-dating.
        imported = ~confirmed & text("OPTIN_TIME").is_null()
        basis = pl.when(imported).then(pl.lit("imported")).otherwise(pl.lit("express"))
    else:
        confirmed, imported, status, basis = pl.lit(False), pl.lit(False), pl.lit("opt_out"), pl.lit("express")
    return base.select(
        *LINEAGE_COLS,
        "cp_raw",
        "contact_point_type",
        pl.lit("email").alias("channel"),
        pl.lit(target.purpose).alias("purpose"),
        pl.lit(target.brand).alias("brand"),
        status.alias("status"),
        basis.alias("basis"),
        pl.col("ts").alias("event_ts"),
        confirmed.alias("double_opt_in"),
        imported.alias("first_sighting"),
        "time_detail",
    )


def _profiles(base: pl.DataFrame) -> pl.DataFrame:
    """Who the member is, as the audience knows them (CC is the member's country when known)."""
    country = text("CC").str.to_uppercase()
    return base.select(
        *LINEAGE_COLS,
        pl.col(EMAIL).alias("email_raw"),
        pl.col("Phone Number").alias("phone_raw"),
        country.alias("cp_region"),
        country.alias("country"),
        text("First Name").alias("first_name"),
        text("Last Name").alias("last_name"),
        pl.col("ts").alias("observed_ts"),
    )
