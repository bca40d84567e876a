"""Invariants as data tests: each is a SQL query returning the rows that violate it (empty = holds).

Each stage lists its own (`INVARIANTS` in the module that owns the table; the ingest ones here as `INGEST`);
`core/invariant_registry.py` gathers those lists explicitly. They run as Dagster asset checks after every
run (defs/checks.py), and the test suite's run helper fails on any that does not hold. A blocking one (the
promises that protect people) stops everything downstream of the table it guards: tonight's extract folder
is then not published.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl


@dataclass(frozen=True)
class Invariant:
    name: str
    table: str  # the warehouse table (asset) it guards
    description: str
    sql: str
    # ERROR: a broken promise (the run's checks fail); WARN: something held back that an operator should see.
    severity: str = "ERROR"
    # A broken promise that protects people: nothing downstream of the table runs, no extract is published.
    blocking: bool = False


INGEST = [
    Invariant(
        "ledger_balances",
        "ingest_ledger",
        "per file, rows_read = accepted + skipped + duplicate + quarantined",
        """
        SELECT source, delivery, source_file, rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined
        FROM ingest_ledger
        WHERE rows_read <> rows_accepted + rows_skipped + rows_duplicate + rows_quarantined
        """,
        blocking=True,
    ),
    Invariant(
        "file_ingested_once",
        "ingest_ledger",
        "a file has one ledger row for each version of its bytes: it is read only once",
        "SELECT source_file, file_sha256, count(*) AS ledger_rows FROM ingest_ledger"
        " GROUP BY source_file, file_sha256 HAVING count(*) > 1",
    ),
    Invariant(
        "landing_held_back",
        "ingest_ledger",
        "what the latest run found in the landing tree and held back or read with a caveat: files quarantined "
        "whole, unexpected files, links and non-files, deliveries dated after the as-of, changed or late files",
        "SELECT source, delivery, source_file, reason, detail FROM landing_report ORDER BY source_file, reason",
        severity="WARN",
    ),
    Invariant(
        "event_ids_unique",
        "consent_events",
        "the event log holds each event once",
        "SELECT event_id, count(*) AS copies FROM event_log GROUP BY event_id HAVING count(*) > 1",
    ),
    Invariant(
        "quarantine_has_reason_and_raw",
        "quarantine",
        "every quarantined record keeps a reason and its raw text",
        "SELECT source_file, source_record, reason FROM quarantine WHERE reason IS NULL OR raw IS NULL",
    ),
]


def violations(con: duckdb.DuckDBPyConnection, invariant: Invariant | str, limit: int | None = None) -> pl.DataFrame:
    """The rows that violate an invariant (given itself or by name), at most `limit`."""
    if isinstance(invariant, str):
        from consent_pipeline.core.invariant_registry import (
            INVARIANTS,  # the stages' lists import this module
        )

        invariant = INVARIANTS[invariant]
    sql = invariant.sql
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(limit)}"
    return con.sql(sql).pl()
