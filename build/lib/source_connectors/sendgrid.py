"""Twilio SendGrid suppression API dumps and Event Webhook log (feeds.md §4).

Every file is read by the shared JSON reader: arrays (several back to back when a paging script appended
one a page), one object or one POST body (an array) a line, or API responses that keep their envelope
(`result`, `results`: rules/files.yaml). Suppression lists and webhook events are put in one shape, one row
per record with a `kind` named after the webhook's event, then decided together:
unsubscribe / spamreport -> opt-out of the account's global purpose; group_unsubscribe / group_resubscribe
-> opt-out / opt-in of the group's purpose; a bounce with a `5.x.x` status or an invalid address ->
undeliverable; blocks (temporary refusals) and the webhook's delivery and engagement events -> skipped.
Everything is by email, for the account's brand; epoch-second times.

A record is skipped only when recognised as carrying no consent; an object with none of its kind's fields
or an event name SendGrid does not define is quarantined. A consent event whose time cannot be read is
handed over without one (`event_ts` null, `time_detail`): the core makes an opt-out take effect at the
delivery's time, estimated, and quarantines an opt-in. One group's endpoint returns bare addresses with no
times (`group_<id>_unsubscribes.json`): each is such an estimated opt-out of that group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    wildcard,
    with_lineage,
)
from source_connectors._time import epoch_seconds
from source_connectors.readers import REC, Records, read_json

SOURCE = "sendgrid"
# Suppression list kind (rules/files.yaml names its files) -> (what its records are, in the webhook's terms
# where it has one; their time field; their group field). `invalid` and `block` have no webhook event.
LISTS = {
    "global_unsubscribes": ("unsubscribe", "created", None),
    "group_unsubscribes": ("group_unsubscribe", "created_at", "group_id"),
    "bounces": ("bounce", "created", None),
    "spam_reports": ("spamreport", "created", None),
    "invalid_emails": ("invalid", "created", None),
    "blocks": ("block", "created", None),
}
# The fields of a suppression list record (`GET /v3/suppression/...`, `/v3/asm/suppressions`): an object
# with none of them is no such record.
LIST_FIELDS = ("email", "created", "created_at", "group_id", "group_name", "reason", "status", "ip")
GROUP_MEMBERS = "group_members"  # one group's endpoint: bare addresses, the group id in the file name
EVENTS = "events"
EVENT_FIELDS = ("email", "event", "timestamp", "sg_event_id", "sg_message_id")
KINDS = (*LISTS, GROUP_MEMBERS, EVENTS)

# Consent kinds -> (status, basis); group kinds take the group's purpose, the others the global one.
CONSENT = {
    "unsubscribe": ("opt_out", "express"),
    "spamreport": ("opt_out", "spam_report"),
    "group_unsubscribe": ("opt_out", "express"),
    "group_resubscribe": ("opt_in", "express"),
}
GROUP_KINDS = ("group_unsubscribe", "group_resubscribe")
# Kinds that make an address undeliverable -> the undeliverable reason (canonical vocabulary).
UNDELIVERABLE = {"bounce": "bounce", "invalid": "invalid"}
# The Event Webhook's other event names (SendGrid's Event Webhook reference): delivery tracking, engagement
# and account notices, none of them a consent. Any name outside these and CONSENT is quarantined.
NOT_CONSENT = ("processed", "dropped", "delivered", "deferred", "open", "click", "account_status_change")
BLOCK = "block"
# A bounce event of `type` blocked is a block (a temporary refusal), not a bounce.
BLOCKED_TYPE = "blocked"
# RFC 3463 enhanced status code: class 5 permanent, class 4 temporary. Taken from `status`, else from the
# SMTP reply in `reason` (`550 5.1.1 ...`).
ENHANCED_CODE = r"\b([245])\.\d{1,3}\.\d{1,3}\b"
HARD, SOFT = "5", "4"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")
ROW_SCHEMA = {
    REC: pl.Int64,
    "kind": pl.String,
    "recognised": pl.Boolean,
    "email_text": pl.String,
    "time_text": pl.String,
    "time_field": pl.String,
    "group_id": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "type": pl.String,
    "record_id": pl.String,
}


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, KINDS)
    unexpected_files(batch, delivery, [p for paths in files.values() for p in paths])
    env = envelopes(rules, SOURCE, _api_error)
    patterns = rules.source_files(SOURCE).files[GROUP_MEMBERS]

    def handler(rows_of: Callable[[Batch, str, pl.DataFrame], pl.DataFrame]) -> Callable[..., None]:
        def handle(part: Batch, rel: str, records: Records) -> None:
            if records.frame.height:
                _decide(part, delivery, rel, rows_of(part, rel, records.frame), rules)

        return handle

    for kind in LISTS:
        each_file(
            batch,
            delivery,
            files[kind],
            lambda path: read_json(path, envelopes=env),
            handler(lambda _part, _rel, frame, kind=kind: _list_rows(frame, kind)),
        )
    for path in files[GROUP_MEMBERS]:
        each_file(
            batch,
            delivery,
            [path],
            lambda p: read_json(p, envelopes=env, scalars=True),
            handler(lambda part, rel, frame, path=path: _member_rows(part, rel, frame, path, patterns)),
        )
    each_file(
        batch,
        delivery,
        files[EVENTS],
        lambda path: read_json(path, envelopes=env),
        handler(lambda _part, _rel, frame: _event_rows(frame)),
    )
    return batch


def _api_error(obj: dict) -> str | None:
    """A SendGrid API error response saved instead of records: `{"errors": [{"message": ...}]}`."""
    errors = obj.get("errors")
    if not isinstance(errors, list) or "email" in obj:
        return None
    messages = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    return "SendGrid API error: " + ("; ".join(messages) or "no message")


def _any_field(frame: pl.DataFrame, names: tuple[str, ...]) -> pl.Expr:
    return pl.any_horizontal([field(frame, n).is_not_null() for n in names])


def _list_rows(frame: pl.DataFrame, list_kind: str) -> pl.DataFrame:
    kind, time_field, group_field = LISTS[list_kind]
    return frame.select(
        REC,
        pl.lit(kind).alias("kind"),
        _any_field(frame, LIST_FIELDS).alias("recognised"),
        field(frame, "email").alias("email_text"),
        field(frame, time_field).alias("time_text"),
        pl.lit(time_field).alias("time_field"),
        (field(frame, group_field) if group_field else pl.lit(None, pl.String)).alias("group_id"),
        field(frame, "status").alias("status"),
        field(frame, "reason").alias("reason"),
        pl.lit(None, pl.String).alias("type"),
        pl.lit(None, pl.String).alias("record_id"),
    )


def _member_rows(batch: Batch, rel: str, frame: pl.DataFrame, path: Path, patterns: list[str]) -> pl.DataFrame:
    """One group's members: each bare address an opt-out of the group named by the file, without a time.
    Anything but a bare address (an object) is not a record of this endpoint."""
    scalar = field(frame, "_scalar")
    rows = reject_where(
        batch,
        rel,
        frame.with_columns(scalar.alias("_address")),
        pl.col("_address").is_null(),
        "bad_json_type",
        f"{path.name} lists bare addresses; this element is an object",
    )
    return rows.select(
        REC,
        pl.lit("group_unsubscribe").alias("kind"),
        pl.lit(True).alias("recognised"),
        pl.col("_address").alias("email_text"),
        pl.lit(None, pl.String).alias("time_text"),
        pl.lit(None, pl.String).alias("time_field"),
        pl.lit(wildcard(path, patterns), pl.String).alias("group_id"),
        pl.lit(None, pl.String).alias("status"),
        pl.lit(None, pl.String).alias("reason"),
        pl.lit(None, pl.String).alias("type"),
        pl.lit(None, pl.String).alias("record_id"),
    )


def _event_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        REC,
        text(field(frame, "event")).str.to_lowercase().alias("kind"),
        _any_field(frame, EVENT_FIELDS).alias("recognised"),
        field(frame, "email").alias("email_text"),
        field(frame, "timestamp").alias("time_text"),
        pl.lit("timestamp").alias("time_field"),
        field(frame, "asm_group_id").alias("group_id"),
        field(frame, "status").alias("status"),
        field(frame, "reason").alias("reason"),
        text(field(frame, "type")).str.to_lowercase().alias("type"),
        field(frame, "sg_event_id").alias("record_id"),
    )


def _decide(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    m = rules.mapping(SOURCE)
    rows = _recognised(batch, rel, rows.select([pl.col(c).cast(t) for c, t in ROW_SCHEMA.items()]))
    rows = _consent_and_undeliverable(batch, rel, rows)
    rows = _checked(batch, rel, rows, m)
    base = with_lineage(rows, delivery, rel, pl.col("record_id")).with_columns(
        pl.col("email_text").alias("cp_raw"), pl.lit("email").alias("contact_point_type")
    )
    batch.add("events", _events(base.filter(pl.col("kind").is_in(list(CONSENT))), m.brand))
    batch.add(
        "undeliverable",
        base.filter(pl.col("kind").is_in(list(UNDELIVERABLE))).select(
            *LINEAGE_COLS,
            "cp_raw",
            "contact_point_type",
            pl.col("ts").alias("since_ts"),
            pl.col("kind").replace_strict(UNDELIVERABLE, return_dtype=pl.String).alias("reason"),
            pl.concat_str(text("status"), text("reason"), separator=" ", ignore_nulls=True).alias("detail"),
        ),
    )


def _recognised(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Records of the file's kind, and events SendGrid defines; anything else is quarantined."""
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("recognised"),
        "unrecognised_record",
        "an object with none of the fields of a SendGrid record",
    )
    rows = reject_where(batch, rel, rows, pl.col("kind").is_null(), "missing_value", "event is empty")
    known = [*CONSENT, *UNDELIVERABLE, BLOCK, *NOT_CONSENT]
    return reject_where(
        batch,
        rel,
        rows,
        ~pl.col("kind").is_in(known),
        "unknown_event",
        pl.format("event: {}", pl.col("kind")),
    )


def _consent_and_undeliverable(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """The records that matter; deliveries, opens, clicks..., blocks and temporary bounces are skipped."""
    skip_records(batch, rel, rows.filter(pl.col("kind").is_in(NOT_CONSENT)), "not_consent")
    bounce = pl.col("kind") == "bounce"
    block = (pl.col("kind") == BLOCK) | (bounce & (pl.col("type") == BLOCKED_TYPE).fill_null(False))
    skip_records(batch, rel, rows.filter(block), "block")
    rows = rows.filter(~pl.col("kind").is_in(NOT_CONSENT) & ~block).with_columns(
        pl.coalesce(text("status").str.extract(ENHANCED_CODE, 1), text("reason").str.extract(ENHANCED_CODE, 1)).alias(
            "_class"
        )
    )
    skip_records(batch, rel, rows.filter(bounce & (pl.col("_class") == SOFT)), "soft_bounce")
    rows = rows.filter(~(bounce & (pl.col("_class") == SOFT).fill_null(False)))
    return reject_where(
        batch,
        rel,
        rows,
        bounce & (pl.col("_class") != HARD).fill_null(True),
        "bad_value",
        pl.when(text("status").is_null() & text("reason").is_null())
        .then(pl.lit("a bounce without a status or an SMTP reply"))
        .otherwise(
            pl.format(
                "status: {}, reason: {} (no 4.x.x or 5.x.x code)",
                pl.col("status").fill_null(""),
                pl.col("reason").fill_null(""),
            )
        ),
    ).drop("_class")


def _group_id(expr: pl.Expr) -> pl.Expr:
    """A group id as the mapping writes it (an integer: `101`, `"101"` and `101.0` are one group)."""
    as_number = text(expr).cast(pl.Float64, strict=False)
    whole = as_number.is_not_null() & (as_number == as_number.floor())
    return pl.when(whole).then(as_number.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(text(expr))


def _checked(batch: Batch, rel: str, rows: pl.DataFrame, m: SendgridMap) -> pl.DataFrame:
    """An email, a known group (`purpose`) and a time (`ts`): a consent event without a readable time goes on
    with a null `ts` and its `time_detail` (the core decides); an undeliverable fact needs its time."""
    group_purposes = {str(gid): g.purpose for gid, g in m.groups.items()}
    in_group = pl.col("kind").is_in(GROUP_KINDS)
    rows = rows.with_columns(
        text("email_text").alias("email_text"),
        _group_id(pl.col("group_id")).alias("group_id"),
        epoch_seconds(pl.col("time_text")).alias("ts"),
    ).with_columns(
        pl.when(in_group)
        .then(pl.col("group_id").replace_strict(group_purposes, default=None, return_dtype=pl.String))
        .otherwise(pl.lit(m.global_unsubscribe_purpose))
        .alias("purpose"),
        pl.when(pl.col("time_field").is_null())
        .then(pl.lit("no time: the group's endpoint lists bare addresses"))
        .when(text("time_text").is_null())
        .then(pl.format("{} is empty", pl.col("time_field")))
        .otherwise(pl.format("{}: {}", pl.col("time_field"), pl.col("time_text")))
        .alias("time_detail"),
    )
    rows = reject_where(batch, rel, rows, pl.col("email_text").is_null(), "missing_value", "email is empty")
    rows = reject_where(batch, rel, rows, in_group & pl.col("group_id").is_null(), "missing_value", "group id is empty")
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
        pl.col("kind").is_in(list(UNDELIVERABLE)) & pl.col("ts").is_null(),
        "bad_timestamp",
        pl.col("time_detail"),
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
        pl.when(pl.col("ts").is_null()).then(pl.col("time_detail")).alias("time_detail"),
        pl.lit(False).alias("double_opt_in"),
    )
