"""CRM customer export (feeds.md §1): identity, not consent.

`customers_*.csv`, deltas: the row with the latest `updated_at` wins (decided downstream). Phones are
parsed with the row's country; `mobile_phone` is personal, `home_phone` the household's shared line.
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.lib.contact_points import postal_raw
from source_connectors._common import (
    boolean,
    parse_files,
    reject_where,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_csv

SOURCE = "customer_master"
KIND = "customers"  # its file patterns: rules/files.yaml
REQUIRED = ("customer_id", "customer_type", "updated_at")
OPTIONAL = (
    "household_id",
    "is_primary_holder",
    "first_name",
    "last_name",
    "email",
    "mobile_phone",
    "home_phone",
    "address_line1",
    "city",
    "state_province",
    "postal_code",
    "country",
    "brands",
    "created_at",
)


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, lambda path: read_csv(path, REQUIRED, OPTIONAL), _customers)


def _customers(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    rows = rows.with_columns(
        text("customer_id").alias("customer_id"),
        text("customer_type").str.to_lowercase().alias("customer_type"),
        iso8601(pl.col("updated_at")).alias("updated_ts"),
        iso8601(pl.col("created_at")).alias("created_ts"),
        text("country").str.to_uppercase().alias("country"),
    )
    rows = reject_where(batch, rel, rows, pl.col("customer_id").is_null(), "missing_value", "customer_id is empty")
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("updated_ts").is_null(),
        "bad_timestamp",
        pl.format("updated_at: {}", pl.col("updated_at")),
    )
    # Brands: unknown ids are rejected parts; the record keeps the known ones.
    brands = (
        rows.select(REC, pl.col("brands").str.split(";").alias("brand"))
        .explode("brand")
        .with_columns(text("brand").alias("brand"))
        .filter(pl.col("brand").is_not_null())
    )
    unknown = brands.filter(~pl.col("brand").is_in(rules.brands))
    reject_where(batch, rel, unknown, pl.lit(True), "unknown_brand", pl.format("brands: {}", pl.col("brand")))
    known = (
        brands.filter(pl.col("brand").is_in(rules.brands))
        .group_by(REC)
        .agg(pl.col("brand").unique().sort().str.join(";").alias("brand_list"))
    )
    rows = rows.join(known, on=REC, how="left")
    frame = with_lineage(rows, delivery, rel, pl.col("customer_id")).select(
        *[c for c in ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")],
        "customer_id",
        text("household_id").alias("household_id"),
        boolean("is_primary_holder").alias("is_primary_holder"),
        text("first_name").alias("first_name"),
        text("last_name").alias("last_name"),
        "country",
        "customer_type",
        pl.col("brand_list").alias("brands"),
        pl.col("created_ts").alias("created_at"),
        pl.col("updated_ts").alias("updated_at"),
        pl.col("email").alias("email_raw"),
        pl.col("mobile_phone").alias("mobile_raw"),
        pl.col("home_phone").alias("home_raw"),
        postal_raw(text("address_line1"), text("city"), text("postal_code"), pl.col("country")).alias("postal_raw"),
    )
    batch.add("customer_records", frame)
