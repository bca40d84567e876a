"""Twilio SendGrid suppression API dumps and Event Webhook log (feeds.md §4).

Suppression lists (JSON arrays) and webhook events (JSON lines) are read into one shape, one row per
record with a `kind` named after the webhook's event, then decided together:
unsubscribe / spamreport -> opt-out of the account's global purpose; group_unsubscribe / group_resubscribe
-> opt-out / opt-in of the group's purpose; bounce with a `5.x.x` status -> undeliverable. Everything is by
email, for the account's brand; epoch-second times.
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import SendgridMap
from source_connectors._common import (
    each_file,
    envelopes,
    field,
    kinds_of,
    reject_where,
    skip_records,
    text,
    unexpected_files,
    with_lineage,
)
from source_connectors._time import epoch_seconds
from source_connectors.readers import REC, read_json

SOURCE = "sendgrid"
# Suppression list kind (rules/files.yaml names its files) -> (the webhook event it is the list of, its
# time field, its group field).
LISTS = {
    "global_unsubscribes": ("unsubscribe", "created", None),
    "group_unsubscribes": ("group_unsubscribe", "created_at", "group_id"),
    "bounces": ("bounce", "created", None),
    "spam_reports": ("spamreport", "created", None),
}
EVENTS = "events"
KINDS = (*LISTS, EVENTS)

# Consent kinds -> (status, basis); group kinds take the group's purpose, the others the global one.
CONSENT = {
    "unsubscribe": ("opt_out", "express"),
    "spamreport": ("opt_out", "spam_report"),
    "group_unsubscribe": ("opt_out", "express"),
    "group_resubscribe": ("opt_in", "express"),
}
GROUP_KINDS = ("group_unsubscribe", "group_resubscribe")
HARD_BOUNCE = "5."  # a permanent failure (RFC 3463 class 5); 4.x.x is temporary

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, KINDS)
    unexpected_files(batch, delivery, [p for paths in files.values() for p in paths])
    env = envelopes(rules, SOURCE)
    for kind in LISTS:
        each_file(
            batch,
            delivery,
            files[kind],
            lambda path: read_json(path, envelopes=env),
            lambda part, rel, records, kind=kind: _decide(
                part, delivery, rel, _list_rows(records.frame, kind), rules
            )
            if records.frame.height
            else None,
        )
    each_file(
        batch,
        delivery,
        files[EVENTS],
        lambda path: read_json(path, envelopes=env),
        lambda part, rel, records: _decide(part, delivery, rel, _event_rows(records.frame), rules)
        if records.frame.height
        else None,
    )
    return batch


def _list_rows(frame: pl.DataFrame, list_kind: str) -> pl.DataFrame:
    kind, time_field, group_field = LISTS[list_kind]
    return frame.select(
        REC,
        pl.lit(kind).alias("kind"),
        field(frame, "email").alias("email_text"),
        field(frame, time_field).alias("time_text"),
        pl.lit(time_field).alias("time_field"),
        (field(frame, group_field) if group_field else pl.lit(None, pl.String)).alias("group_id"),
        field(frame, "status").alias("status"),
        field(frame, "reason").alias("reason"),
        pl.lit(None, pl.String).alias("record_id"),
    )


def _event_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        REC,
        text(field(frame, "event")).alias("kind"),
        field(frame, "email").alias("email_text"),
        field(frame, "timestamp").alias("time_text"),
        pl.lit("timestamp").alias("time_field"),
        field(frame, "asm_group_id").alias("group_id"),
        field(frame, "status").alias("status"),
        field(frame, "reason").alias("reason"),
        field(frame, "sg_event_id").alias("record_id"),
    )


def _decide(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    m = rules.mapping(SOURCE)
    rows = _consent_and_hard_bounces(batch, rel, rows)
    rows = _checked(batch, rel, rows, m)
    base = with_lineage(rows, delivery, rel, pl.col("record_id")).with_columns(
        pl.col("email_text").alias("cp_raw"), pl.lit("email").alias("contact_point_type")
    )
    batch.add("events", _events(base.filter(pl.col("kind") != "bounce"), m.brand))
    batch.add(
        "undeliverable",
        base.filter(pl.col("kind") == "bounce").select(
            *LINEAGE_COLS,
            "cp_raw",
            "contact_point_type",
            pl.col("ts").alias("since_ts"),
            pl.lit("bounce").alias("reason"),
            pl.concat_str(text("status"), text("reason"), separator=" ", ignore_nulls=True).alias("detail"),
        ),
    )


def _consent_and_hard_bounces(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """The records that matter; opens, clicks, deliveries... and temporary bounces are skipped."""
    rows = reject_where(batch, rel, rows, pl.col("kind").is_null(), "missing_value", "event is empty")
    hard = text("status").str.starts_with(HARD_BOUNCE).fill_null(False)
    bounce = pl.col("kind") == "bounce"
    skip_records(batch, rel, rows.filter(~pl.col("kind").is_in([*CONSENT, "bounce"])), "not_consent")
    skip_records(batch, rel, rows.filter(bounce & ~hard), "soft_bounce")
    return rows.filter(pl.col("kind").is_in(list(CONSENT)) | (bounce & hard))


def _checked(batch: Batch, rel: str, rows: pl.DataFrame, m: SendgridMap) -> pl.DataFrame:
    """An email, a known group (`purpose`) and a readable time (`ts`), or rejected."""
    group_purposes = {str(gid): g.purpose for gid, g in m.groups.items()}
    in_group = pl.col("kind").is_in(GROUP_KINDS)
    rows = rows.with_columns(
        text("email_text").alias("email"),
        text("group_id").alias("group_id"),
        epoch_seconds(pl.col("time_text")).alias("ts"),
    ).with_columns(
        pl.when(in_group)
        .then(pl.col("group_id").replace_strict(group_purposes, default=None, return_dtype=pl.String))
        .otherwise(pl.lit(m.global_unsubscribe_purpose))
        .alias("purpose")
    )
    rows = reject_where(batch, rel, rows, pl.col("email").is_null(), "missing_value", "email is empty")
    rows = reject_where(
        batch, rel, rows, in_group & pl.col("group_id").is_null(), "missing_value", "group id is empty"
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("purpose").is_null(),
        "unmapped_group",
        pl.format("group_id: {}", pl.col("group_id")),
    )
    return reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("{}: {}", pl.col("time_field"), pl.col("time_text").fill_null("")),
    )


def _events(rows: pl.DataFrame, brand: str) -> pl.DataFrame:
    status = {k: s for k, (s, _) in CONSENT.items()}
    basis = {k: b for k, (_, b) in CONSENT.items()}
    return rows.select(
        *LINEAGE_COLS,
        "cp_raw",
        "contact_point_type",
        pl.lit("email").alias("channel"),
        "purpose",
        pl.lit(brand).alias("brand"),
        pl.col("kind").replace_strict(status, return_dtype=pl.String).alias("status"),
        pl.col("kind").replace_strict(basis, return_dtype=pl.String).alias("basis"),
        pl.col("ts").alias("event_ts"),
        pl.lit(False).alias("double_opt_in"),
    )
