"""Billing and e-commerce activity (feeds.md §13): `transactions_*.csv`.

Not consent: each row is an `activity` fact (purchase, inquiry, contract start/end, cancellation) of a
customer for a brand, behind implied consent, established business relationships, soft opt-in and the
segments. `txn_type` is one of the canonical activity kinds (vocabulary `ACTIVITY_KINDS`, compared trimmed
and lower-cased); another value is rejected here as `unknown_txn_type` (so validation never sees it and
reports it once). `occurred_at` is ISO 8601 (`bad_timestamp` when unreadable; the future/past rule is the
core's). `amount` is a decimal number with a `.` (empty: none; anything else `bad_amount`). A transaction
without `customer_id` names nobody and is rejected (`missing_value`); an empty `txn_id` or an unknown brand
is left to validation (`missing_activity_id`, `unknown_brand`).
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.canonical.vocabulary import ACTIVITY_KINDS
from consent_pipeline.config import Rules
from source_connectors._common import (
    parse_files,
    reject_where,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_csv

SOURCE = "transactions"
KIND = "transactions"  # its file patterns: rules/files.yaml
REQUIRED = ("txn_id", "customer_id", "brand", "txn_type", "occurred_at")
OPTIONAL = ("amount", "currency")

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, lambda path: read_csv(path, REQUIRED, OPTIONAL), _transactions)


def _transactions(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, _rules: Rules) -> None:
    rows = rows.with_columns(
        text("txn_id").alias("txn_id"),
        text("customer_id").alias("customer_id"),
        text("txn_type").str.to_lowercase().alias("kind"),
        iso8601(pl.col("occurred_at")).alias("ts"),
        text("amount").alias("amount_text"),
    ).with_columns(
        # A plain decimal (`75.00`, `-12.5`): no thousands separators or decimal commas to guess at.
        pl.when(pl.col("amount_text").str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$"))
        .then(pl.col("amount_text").cast(pl.Float64, strict=False))
        .alias("amount_value")
    )
    rows = reject_where(batch, rel, rows, pl.col("customer_id").is_null(), "missing_value", "customer_id is empty")
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("kind").is_in(list(ACTIVITY_KINDS)).fill_null(False),
        "unknown_txn_type",
        pl.format("txn_type: {}", pl.col("txn_type").fill_null("")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("occurred_at: {}", pl.col("occurred_at").fill_null("")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("amount_text").is_not_null() & pl.col("amount_value").is_null(),
        "bad_amount",
        pl.format("amount: {}", pl.col("amount_text")),
    )
    batch.add(
        "activity",
        with_lineage(rows, delivery, rel, pl.col("txn_id")).select(
            *LINEAGE_COLS,
            pl.col("txn_id").alias("activity_id"),
            pl.col("customer_id").alias("party_id"),
            text("brand").alias("brand"),
            "kind",
            pl.col("ts").alias("occurred_at"),
            pl.col("amount_value").alias("amount"),
            text("currency").str.to_uppercase().alias("currency"),
        ),
    )
