"""Store point-of-sale receipts (feeds.md §8): each delivery holds `stores.csv` and `receipts_*.csv`.

`stores.csv` (`store_id,brand,country,timezone,date_format`) lists the stores of the delivery: each row
is a `stores` row (an accepted record). A store row with an empty id (`missing_value`), a brand that is not
a brand id of rules/ (`unknown_brand`), a timezone that is not an IANA zone or a date_format other than
`DMY`/`MDY` (`bad_value`) is rejected; rows that give one store_id two different descriptions are all
rejected (`conflicting_store`): which wall clock the receipts use would be a guess.

Receipts are read against the stores of the SAME delivery only (an unknown store: `unknown_store`).
`txn_local_time` is the store's wall clock in its date_format (`dd/mm/yyyy HH:MM` or `mm/dd/yyyy HH:MM`),
converted from the store's IANA zone with DST (`local_wall_clock`); an impossible date is `bad_timestamp`.
Every receipt is a purchase (`activity`: `<store_id>:<receipt_no>`, the customer if any, the store's
brand, amount and currency, the receipt's email and mobile with the store's country for parsing it).
`marketing_optin_email` / `marketing_optin_sms` = `Y` is an express opt-in to the mapping's
`optin_purpose` for the store's brand, on the receipt's email / mobile, party = customer_id when given.
`N` or empty is an unticked box: no decision, never an opt-out. Rejected parts of an accepted receipt: a
ticked box without the contact point (`no_contact_point`), a box value other than Y/N (`bad_value`), an
amount that is not a number (`bad_value`; the purchase is kept without amount).
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from source_connectors._common import (
    each_file,
    kinds_of,
    reject_where,
    start_file,
    text,
    unexpected_files,
    with_lineage,
)
from source_connectors._time import local_wall_clock
from source_connectors.readers import REC, Records, read_csv

SOURCE = "pos"
KINDS = ("stores", "receipts")  # their file patterns: rules/files.yaml
STORE_COLS = ("store_id", "brand", "country", "timezone", "date_format")
# Every column is required: a dropped customer_id, email or mobile would change whose opt-in a ticked box
# is, or lose it; a dropped box column would hide decisions.
RECEIPT_COLS = (
    "store_id",
    "receipt_no",
    "txn_local_time",
    "customer_id",
    "email",
    "mobile",
    "marketing_optin_email",
    "marketing_optin_sms",
    "amount",
    "currency",
)
# date_format -> the strptime formats of txn_local_time (seconds tolerated).
DATE_FORMATS = {
    "DMY": ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"),
    "MDY": ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"),
}
# The ticked boxes: box column -> (channel, contact column, contact-point type).
BOXES = {
    "marketing_optin_email": ("email", "email", "email"),
    "marketing_optin_sms": ("sms", "mobile", "phone"),
}
TICKED, UNTICKED = "Y", "N"
STORE_SCHEMA = {
    "store_id": pl.String,
    "store_brand": pl.String,
    "store_country": pl.String,
    "store_tz": pl.String,
    "store_format": pl.String,
}

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, KINDS)
    # The delivery's store list is the one at its top level; another stores file is unexpected.
    stores_files = [p for p in files["stores"] if p.parent == delivery.path][:1]
    receipts = files["receipts"]
    unexpected_files(batch, delivery, stores_files + receipts)
    stores = (
        _read_stores(batch, delivery, stores_files[0], rules) if stores_files else pl.DataFrame(schema=STORE_SCHEMA)
    )

    def one(part: Batch, rel: str, records: Records) -> None:
        if records.frame.height:
            _receipts(part, delivery, rel, records.frame, stores, rules)

    each_file(batch, delivery, receipts, lambda path: read_csv(path, RECEIPT_COLS), one)
    return batch


# --- stores.csv ---------------------------------------------------------------------------------


def _read_stores(batch: Batch, delivery: Delivery, path: Path, rules: Rules) -> pl.DataFrame:
    """Register and check the delivery's stores; returns the good ones (store_id -> brand, zone...)."""
    records = read_csv(path, STORE_COLS)
    rel = start_file(batch, delivery, path, records)
    if not records.frame.height:
        return pl.DataFrame(schema=STORE_SCHEMA)
    rows = records.frame.with_columns(
        text("store_id").alias("store_id"),
        text("brand").alias("store_brand"),
        text("country").str.to_uppercase().alias("store_country"),
        text("timezone").alias("store_tz"),
        text("date_format").str.to_uppercase().alias("store_format"),
    )
    rows = reject_where(batch, rel, rows, pl.col("store_id").is_null(), "missing_value", "store_id is empty")
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("store_brand").is_in(rules.brands).fill_null(False),
        "unknown_brand",
        pl.format("brand: {}", pl.col("brand").fill_null("")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("store_tz").is_in(sorted(zoneinfo.available_timezones())).fill_null(False),
        "bad_value",
        pl.format("timezone: {}", pl.col("timezone").fill_null("")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("store_format").is_in(list(DATE_FORMATS)).fill_null(False),
        "bad_value",
        pl.format("date_format: {}", pl.col("date_format").fill_null("")),
    )
    described = list(STORE_SCHEMA)
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.struct(described).n_unique().over("store_id") > 1,
        "conflicting_store",
        pl.format("store_id {} is listed with different details", pl.col("store_id")),
    )
    frame = with_lineage(rows, delivery, rel, pl.col("store_id")).select(
        *LINEAGE_COLS,
        "store_id",
        pl.col("store_brand").alias("brand"),
        pl.col("store_country").alias("country"),
        pl.col("store_tz").alias("timezone"),
        pl.col("store_format").alias("date_format"),
    )
    batch.add("stores", frame)
    return rows.select(described).unique("store_id", keep="first", maintain_order=True)


# --- receipts_*.csv -----------------------------------------------------------------------------


def _receipts(
    batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, stores: pl.DataFrame, rules: Rules
) -> None:
    rows = rows.with_columns(text("store_id").alias("store_id"), text("receipt_no").alias("receipt_no"))
    rows = reject_where(batch, rel, rows, pl.col("store_id").is_null(), "missing_value", "store_id is empty")
    rows = reject_where(batch, rel, rows, pl.col("receipt_no").is_null(), "missing_value", "receipt_no is empty")
    rows = rows.join(stores, on="store_id", how="left", maintain_order="left")
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("store_brand").is_null(),
        "unknown_store",
        pl.format("store_id: {} (not in this delivery's stores.csv)", pl.col("store_id")),
    )
    rows = _times(batch, rel, rows)
    rows = rows.with_columns(
        text("customer_id").alias("party_id"),
        pl.format("{}:{}", pl.col("store_id"), pl.col("receipt_no")).alias("activity_id"),
        text("amount").cast(pl.Float64, strict=False).alias("amount_value"),
    )
    # A bad amount is a rejected part: the purchase itself stands, without an amount.
    reject_where(
        batch,
        rel,
        rows,
        text("amount").is_not_null() & pl.col("amount_value").is_null(),
        "bad_value",
        pl.format("amount: {}", pl.col("amount")),
    )
    base = with_lineage(rows, delivery, rel, pl.col("activity_id"))
    batch.add(
        "activity",
        base.select(
            *LINEAGE_COLS,
            "activity_id",
            "party_id",
            pl.col("store_brand").alias("brand"),
            pl.lit("purchase").alias("kind"),
            "occurred_at",
            pl.col("amount_value").alias("amount"),
            text("currency").str.to_uppercase().alias("currency"),
            pl.col("email").alias("email_raw"),
            pl.col("mobile").alias("phone_raw"),
            pl.col("store_country").alias("cp_region"),
        ),
    )
    purpose = rules.mapping(SOURCE).optin_purpose
    for box, (channel, contact, cp_type) in BOXES.items():
        batch.add("events", _opt_ins(batch, rel, base, box, channel, contact, cp_type, purpose))


def _times(batch: Batch, rel: str, rows: pl.DataFrame) -> pl.DataFrame:
    """occurred_at: txn_local_time read in the store's date_format, then from its zone to UTC."""
    local = pl.col("txn_local_time").str.strip_chars()
    parsed = pl.coalesce(
        pl.when(pl.col("store_format") == name).then(
            pl.coalesce(local.str.to_datetime(f, strict=False, time_unit="us") for f in formats)
        )
        for name, formats in DATE_FORMATS.items()
    )
    rows = local_wall_clock(rows.with_columns(parsed.alias("local_ts")), "local_ts", "store_tz", "occurred_at")
    return reject_where(
        batch,
        rel,
        rows,
        pl.col("occurred_at").is_null(),
        "bad_timestamp",
        pl.format(
            "txn_local_time: {} ({} store, {})",
            pl.col("txn_local_time").fill_null(""),
            pl.col("store_format"),
            pl.col("store_tz"),
        ),
    )


def _opt_ins(
    batch: Batch,
    rel: str,
    base: pl.DataFrame,
    box: str,
    channel: str,
    contact: str,
    cp_type: str,
    purpose: str,
) -> pl.DataFrame:
    """The express opt-ins of one ticked box, on the receipt's contact point of that channel."""
    value = text(box).str.to_uppercase()
    rows = reject_where(
        batch,
        rel,
        base,
        value.is_not_null() & ~value.is_in([TICKED, UNTICKED]),
        "bad_value",
        pl.format(f"{box}: {{}}", pl.col(box)),
    )
    rows = rows.filter(value == TICKED)
    rows = reject_where(
        batch,
        rel,
        rows,
        text(contact).is_null(),
        "no_contact_point",
        f"{box}=Y without {contact}",
    )
    return rows.select(
        *LINEAGE_COLS,
        "party_id",
        pl.col(contact).alias("cp_raw"),
        pl.lit(cp_type).alias("contact_point_type"),
        pl.col("store_country").alias("cp_region"),
        pl.lit(channel).alias("channel"),
        pl.lit(purpose).alias("purpose"),
        pl.col("store_brand").alias("brand"),
        pl.lit("opt_in").alias("status"),
        pl.lit("express").alias("basis"),
        pl.col("occurred_at").alias("event_ts"),
        pl.lit(False).alias("double_opt_in"),
    )
