"""Warehouse tables the ingest writes: the event log, the fact tables, quarantine and the ledger.

Column lists come from the canonical table specs, so the warehouse and the connectors cannot drift.
"""

from __future__ import annotations

import duckdb
import polars as pl

from consent_pipeline.canonical import TABLES

# canonical table -> warehouse table, and the name of its row identity column
WAREHOUSE_NAME = {name: ("event_log" if name == "events" else name) for name in TABLES}
ID_COLUMN = {name: ("event_id" if name == "events" else "row_id") for name in TABLES}

_DUCK = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.Datetime: "TIMESTAMP",
}


def duck_type(dtype: pl.DataType) -> str:
    return _DUCK[dtype.base_type()]


def table_columns(name: str) -> dict[str, str]:
    spec = TABLES[name]
    return {ID_COLUMN[name]: "VARCHAR", **{c: duck_type(t) for c, t in spec.all_columns.items()}}


QUARANTINE = {
    "source": "VARCHAR",
    "delivery": "VARCHAR",
    "received_ts": "TIMESTAMP",
    "source_file": "VARCHAR",
    "source_record": "BIGINT",
    "reason": "VARCHAR",
    "detail": "VARCHAR",
    "raw": "VARCHAR",
    "contact_point": "VARCHAR",
    "party_id": "VARCHAR",
    "run_id": "VARCHAR",
}

LEDGER = {
    "source": "VARCHAR",
    "delivery": "VARCHAR",
    "received_ts": "TIMESTAMP",
    "source_file": "VARCHAR",
    "rows_read": "BIGINT",
    "rows_accepted": "BIGINT",
    "rows_skipped": "BIGINT",
    "rows_duplicate": "BIGINT",
    "rows_quarantined": "BIGINT",
    "run_id": "VARCHAR",
    "ingested_at": "TIMESTAMP",
    # read | unreadable | unexpected | failed (landing.py: the last two are looked at again)
    "file_status": "VARCHAR",
    "file_sha256": "VARCHAR",
    "file_bytes": "BIGINT",
    "file_mtime_ns": "BIGINT",
    "file_note": "VARCHAR",  # late | changed
}

# What the latest run found in the landing tree and did not read, or read with a caveat: files quarantined
# whole (unreadable, unexpected, links, non-files, badly named folders), deliveries held (dated after the
# as-of), files that changed after they were read or appeared late. Replaced by every run; a warning check.
LANDING_REPORT = {
    "source": "VARCHAR",
    "delivery": "VARCHAR",
    "source_file": "VARCHAR",
    "reason": "VARCHAR",
    "detail": "VARCHAR",
    "run_id": "VARCHAR",
}


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')
    # A warehouse written by an older version lacks the columns added since: add them (empty), in order.
    have = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}
    for c, t in columns.items():
        if c not in have:
            con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{c}" {t}')


def ensure_ingest_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        _create(con, WAREHOUSE_NAME[name], table_columns(name))
    _create(con, "quarantine", QUARANTINE)
    _create(con, "ingest_ledger", LEDGER)
    _create(con, "landing_report", LANDING_REPORT)
    con.execute(
        """
        CREATE OR REPLACE VIEW consent_events AS
        WITH link AS (
            SELECT source_party_id, party_id FROM party_links
            QUALIFY row_number() OVER (PARTITION BY source_party_id ORDER BY linked_at DESC NULLS LAST, row_id) = 1
        ), point AS (
            SELECT source, source_point_id, party_ref, contact_point, contact_point_type FROM contact_point_links
            QUALIFY row_number() OVER (PARTITION BY source, source_point_id
                                       ORDER BY linked_at DESC NULLS LAST, row_id) = 1
        ), resolved AS (
            -- an event naming a source's contact-point record takes its contact point and party from the link
            SELECT e.event_id, e.source, e.delivery, e.source_file, e.source_record, e.source_record_id,
                   e.party_id, e.channel, e.purpose, e.brand, e.status, e.basis, e.event_ts, e.received_ts,
                   e.valid_until, e.double_opt_in, e.event_ts_estimated, e.contact_point_ref,
                   coalesce(e.contact_point, point.contact_point) AS contact_point,
                   coalesce(e.contact_point_type, point.contact_point_type) AS contact_point_type,
                   coalesce(e.party_ref, point.party_ref) AS party_ref
            FROM event_log e
            LEFT JOIN point ON e.contact_point_ref IS NOT NULL AND point.source = e.source
                           AND point.source_point_id = e.contact_point_ref
        )
        SELECT e.event_id, e.source, e.delivery, e.source_file, e.source_record, e.source_record_id,
               e.contact_point, e.contact_point_type, coalesce(e.party_id, link.party_id) AS party_id,
               e.party_ref, e.channel, e.purpose, e.brand, e.status, e.basis, e.event_ts, e.received_ts,
               e.valid_until, e.double_opt_in, coalesce(e.event_ts_estimated, false) AS event_ts_estimated,
               e.contact_point_ref
        FROM resolved e LEFT JOIN link ON e.party_ref = link.source_party_id
        """
    )
