"""Validate canonical tables with pandera (polars backend); failing rows become quarantined parts.

Each check is named by the quarantine reason it produces, so a failure maps straight to a reason code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import cast

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from consent_pipeline.canonical import REJECTS, TABLES, Batch, conform, empty
from consent_pipeline.canonical import vocabulary as vocab
from consent_pipeline.config import Rules

EARLIEST = dt.datetime(1990, 1, 1)
MAX_AHEAD = dt.timedelta(days=1)
# Amounts are summed as DECIMAL(18, 2) (core/marketing/segments.py). An amount is kept when it is finite, has at most
# AMOUNT_DECIMALS decimal places and is below AMOUNT_LIMIT in magnitude: 10^13, where a double (the
# canonical type) still holds every cent exactly (up to about 9 x 10^13) and far inside what DECIMAL(18, 2)
# holds (10^16). Anything else would be rounded, or stop the segments on every later night.
AMOUNT_LIMIT = 10.0**13
AMOUNT_DECIMALS = 2


def _isin(values: Iterable[str], reason: str, star: bool = False) -> pa.Check:
    allowed = sorted(set(values) | ({"*"} if star else set()))

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_in(allowed) | pl.col(data.key).is_null())

    return pa.Check(check, name=reason)


def _time_checks() -> list[pa.Check]:
    """Column checks on a source-time column; they read the row's received_ts too."""

    def not_before(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col(data.key) >= EARLIEST) | pl.col(data.key).is_null())

    def not_ahead(data: pa.PolarsData) -> pl.LazyFrame:
        col = pl.col(data.key)
        return data.lazyframe.select((col <= pl.col("received_ts") + MAX_AHEAD) | col.is_null())

    return [pa.Check(not_before, name="timestamp_before_1990"), pa.Check(not_ahead, name="future_timestamp")]


def _amount_check() -> pa.Check:
    """finite, |x| < AMOUNT_LIMIT, at most AMOUNT_DECIMALS decimal places (to a double's precision)."""

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        x = pl.col(data.key)
        scaled = x * 10**AMOUNT_DECIMALS
        whole = (scaled - scaled.round()).abs() <= 1e-9 * scaled.abs().clip(lower_bound=1.0)
        return data.lazyframe.select((x.is_finite() & (x.abs() < AMOUNT_LIMIT) & whole) | x.is_null())

    return pa.Check(check, name="bad_amount")


# Per table, per numeric column a feed fills: the check of its values (a number the warehouse could not hold
# or would round is quarantined here, whatever the source).
NUMBERS: dict[str, dict[str, Callable[[], pa.Check]]] = {"activity": {"amount": _amount_check}}


def _domains(rules: Rules) -> dict[str, dict[str, Callable[[], pa.Check]]]:
    """Per table, per column: the check of its allowed values."""
    return {
        "events": {
            "channel": lambda: _isin(rules.channels, "unknown_channel", star=True),
            "purpose": lambda: _isin(rules.purposes, "unknown_purpose", star=True),
            "brand": lambda: _isin(rules.brands, "unknown_brand", star=True),
            "status": lambda: _isin(vocab.STATUSES, "unknown_status"),
            "basis": lambda: _isin(vocab.BASES, "unknown_basis"),
            "contact_point_type": lambda: _isin(vocab.CONTACT_POINT_TYPES, "unknown_contact_point_type"),
        },
        "customer_records": {"customer_type": lambda: _isin(vocab.CUSTOMER_TYPES, "unknown_customer_type")},
        "activity": {
            "kind": lambda: _isin(vocab.ACTIVITY_KINDS, "unknown_activity_kind"),
            "brand": lambda: _isin(rules.brands, "unknown_brand"),
        },
        "sends": {
            "channel": lambda: _isin(rules.channels, "unknown_channel"),
            "brand": lambda: _isin(rules.brands, "unknown_brand"),
            "purpose": lambda: _isin(rules.leaf_purposes, "unknown_purpose"),
        },
        "stores": {"brand": lambda: _isin(rules.brands, "unknown_brand")},
        "contact_evidence": {"kind": lambda: _isin(vocab.EVIDENCE_KINDS, "unknown_evidence_kind")},
        "undeliverable": {"reason": lambda: _isin(vocab.UNDELIVERABLE_REASONS, "unknown_undeliverable_reason")},
    }


def schema_for(name: str, rules: Rules) -> pa.DataFrameSchema:
    """The pandera schema of a canonical table: types, required columns, allowed values, time bounds."""
    spec = TABLES[name]
    domains = _domains(rules).get(name, {})
    columns: dict[str, pa.Column] = {}
    for col, dtype in spec.all_columns.items():
        checks = [domains[col]()] if col in domains else []
        if col in NUMBERS.get(name, {}):
            checks.append(NUMBERS[name][col]())
        if col in spec.times:
            checks += _time_checks()
        columns[col] = pa.Column(dtype, nullable=col not in spec.required, checks=checks)
    return pa.DataFrameSchema(columns, name=name, strict=False, coerce=False)


def validate_table(name: str, frame: pl.DataFrame, rules: Rules) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows that pass, and one reject per failing row (its first failing check as the reason)."""
    if frame.height == 0:
        return frame, empty(REJECTS)
    try:
        schema_for(name, rules).validate(frame, lazy=True)
        return frame, empty(REJECTS)
    except SchemaErrors as exc:
        # pandera sets failure_cases unannotated (a frame of the validated library's type: here polars)
        cases = cast(pl.DataFrame, exc.failure_cases)  # pyright: ignore[reportUnknownMemberType]
        error = exc
    cases = cases.filter(pl.col("index").is_not_null()).with_columns(
        pl.when(pl.col("check") == "not_nullable")
        .then(pl.format("missing_{}", pl.col("column")))
        .otherwise(pl.col("check"))
        .alias("reason"),
        # The failing value alone (no column name, no other fields): the same bad time in several rows of one
        # record is one quarantined part, and no personal data is copied into the detail.
        pl.when(pl.col("check") == "not_nullable")
        .then(pl.format("{} is empty", pl.col("column")))
        .otherwise(pl.col("failure_case"))
        .alias("detail"),
        pl.col("index").cast(pl.Int64),
    )
    if cases.height == 0:  # a failure with no row to blame is a bug in a connector, not bad input
        raise error
    first = cases.group_by("index", maintain_order=True).first()
    indexed = frame.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    bad = indexed.join(first.select("index", "reason", "detail"), on="index", how="inner")
    party = pl.col("party_id") if "party_id" in frame.columns else pl.lit(None, pl.String)
    rejects = conform(bad.select("source_file", "source_record", "reason", "detail", party.alias("party_id")), REJECTS)
    good = indexed.join(first.select("index"), on="index", how="anti").drop("index")
    return good, rejects


def validate_batch(batch: Batch, rules: Rules) -> None:
    for name in batch.table_names:
        good, rejects = validate_table(name, batch.table(name), rules)
        batch.set_table(name, good)
        batch.reject(rejects)
