"""Append staged batches to the event log and fact tables, deduplicated, with quarantine and the ledger.

One transaction: either everything staged lands (events, facts, quarantine rows, ledger rows) or nothing
does. A row's identity is a hash of its content columns (canonical `identity`), so a re-delivered record is
a duplicate, not a new event. Per file, each record ends as exactly one of accepted / skipped / duplicate /
quarantined, and the ledger row says how many of each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from consent_pipeline.canonical import TABLES
from consent_pipeline.core.sql import timed
from consent_pipeline.core.staging import staged_files
from consent_pipeline.warehouse.schema import ID_COLUMN, WAREHOUSE_NAME, ensure_ingest_tables

NUL = "chr(0)"  # stands for NULL inside the identity hash, so (NULL, 'x') != ('x', NULL)


def identity_sql(columns: tuple[str, ...]) -> str:
    """The SQL of a row's identity: the first 32 hex digits of the SHA-256 of its content columns."""
    parts = ", ".join(f'coalesce(CAST("{c}" AS VARCHAR), {NUL})' for c in columns)
    return f"substr(sha256(concat_ws(chr(31), {parts})), 1, 32)"


def _list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


@dataclass
class IngestSummary:
    files: int
    rows_read: int
    accepted: int
    skipped: int
    duplicate: int
    quarantined: int
    new_rows: dict[str, int]


def ingest_staged(
    con: duckdb.DuckDBPyConnection, staging: Path, run_id: str, now: dt.datetime
) -> IngestSummary:
    """Ingest every staged source into the warehouse in one transaction."""
    ensure_ingest_tables(con)
    files = staged_files(staging, "files")
    if not files:
        return IngestSummary(0, 0, 0, 0, 0, 0, {})
    con.execute("BEGIN TRANSACTION")
    try:
        summary = _ingest(con, staging, files, run_id, now)
        timed(con, "event log commit", "COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


def _ingest(
    con: duckdb.DuckDBPyConnection, staging: Path, files: list[str], run_id: str, now: dt.datetime
) -> IngestSummary:
    # Files not ingested before (a stale staged batch of an ingested file is ignored).
    timed(
        con,
        "staged files",
        f"""
        CREATE OR REPLACE TEMP TABLE stg_files AS
        SELECT DISTINCT * FROM read_parquet({_list(files)})
        WHERE source_file NOT IN (SELECT source_file FROM ingest_ledger)
        """,
    )
    new_rows: dict[str, int] = {}
    part_selects = []
    for name, spec in TABLES.items():
        paths = staged_files(staging, name)
        if not paths:
            continue
        target, id_col = WAREHOUSE_NAME[name], ID_COLUMN[name]
        cols = ", ".join(f'"{c}"' for c in spec.all_columns)
        timed(
            con,
            f"stage {name}",
            f"""
            CREATE OR REPLACE TEMP TABLE stg_{name} AS
            WITH staged AS (
                SELECT {identity_sql(spec.identity)} AS "{id_col}", {cols}
                FROM read_parquet({_list(paths)})
                WHERE source_file IN (SELECT source_file FROM stg_files)
            )
            SELECT s.*,
                   (row_number() OVER (PARTITION BY s."{id_col}"
                                       ORDER BY s.received_ts, s.source_file, s.source_record) = 1
                    AND known."{id_col}" IS NULL) AS is_new
            FROM staged s
            LEFT JOIN (SELECT DISTINCT "{id_col}" FROM "{target}") known USING ("{id_col}")
            """,
        )
        timed(
            con,
            f"insert {target}",
            f'INSERT INTO "{target}" SELECT "{id_col}", {cols} FROM stg_{name} WHERE is_new',
        )
        _keep_first_delivery(con, name, target, id_col)
        new_rows[target] = con.execute(f"SELECT count(*) FILTER (is_new) FROM stg_{name}").fetchall()[0][0]
        if spec.counts_as_part:
            part_selects.append(
                f"SELECT source_file, source_record, is_new FROM stg_{name} WHERE source_record IS NOT NULL"
            )
    parts_sql = (
        " UNION ALL ".join(part_selects)
        if part_selects
        else (
            "SELECT NULL::VARCHAR AS source_file, NULL::BIGINT AS source_record, NULL::BOOLEAN AS is_new WHERE false"
        )
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_parts AS
        SELECT source_file, source_record, bool_or(is_new) AS any_new FROM ({parts_sql}) GROUP BY ALL
        """
    )
    _quarantine(con, staging, run_id)
    _skips(con, staging)
    con.execute(
        """
        INSERT INTO ingest_ledger
        WITH p AS (
            SELECT source_file, count(*) FILTER (any_new) AS accepted, count(*) FILTER (NOT any_new) AS duplicate
            FROM stg_parts GROUP BY ALL
        ), q AS (
            SELECT r.source_file, count(DISTINCT r.source_record) AS quarantined
            FROM stg_rejects r ANTI JOIN stg_parts p USING (source_file, source_record)
            WHERE r.source_record IS NOT NULL GROUP BY ALL
        ), s AS (
            SELECT k.source_file, count(DISTINCT k.source_record) AS skipped
            FROM stg_skips k
            ANTI JOIN stg_parts p USING (source_file, source_record)
            ANTI JOIN (SELECT DISTINCT source_file, source_record FROM stg_rejects) r USING (source_file, source_record)
            GROUP BY ALL
        )
        SELECT f.source, f.delivery, f.received_ts, f.source_file, f.rows_read,
               coalesce(p.accepted, 0), coalesce(s.skipped, 0), coalesce(p.duplicate, 0), coalesce(q.quarantined, 0),
               $run_id, $now
        FROM stg_files f LEFT JOIN p USING (source_file) LEFT JOIN q USING (source_file) LEFT JOIN s USING (source_file)
        """,
        {"run_id": run_id, "now": now},
    )
    totals = con.execute(
        """
        SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_accepted), 0), coalesce(sum(rows_skipped), 0),
               coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_quarantined), 0)
        FROM ingest_ledger WHERE run_id = $run_id
        """,
        {"run_id": run_id},
    ).fetchall()[0]
    for t in ("stg_files", "stg_parts", "stg_rejects", "stg_skips", *(f"stg_{n}" for n in TABLES)):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return IngestSummary(*(int(v) for v in totals), new_rows=new_rows)


def _keep_first_delivery(con: duckdb.DuckDBPyConnection, name: str, target: str, id_col: str) -> None:
    """A duplicate delivered earlier than the copy already stored (deliveries ingested out of order) becomes
    the stored copy's lineage: a row's lineage is always its first delivery, whatever order runs saw them."""
    timed(
        con,
        f"first delivery {target}",
        f"""
        UPDATE "{target}" AS t
        SET received_ts = s.received_ts, delivery = s.delivery, source_file = s.source_file,
            source_record = s.source_record, source_record_id = s.source_record_id
        FROM (
            SELECT * FROM stg_{name} WHERE NOT is_new
            QUALIFY row_number() OVER (PARTITION BY "{id_col}" ORDER BY received_ts, source_file, source_record) = 1
        ) s
        WHERE t."{id_col}" = s."{id_col}"
          AND (s.received_ts < t.received_ts
               OR (s.received_ts = t.received_ts AND (s.source_file < t.source_file
                   OR (s.source_file = t.source_file AND s.source_record < t.source_record))))
        """,
    )


def _quarantine(con: duckdb.DuckDBPyConnection, staging: Path, run_id: str) -> None:
    paths = staged_files(staging, "rejects")
    source = (
        "read_parquet(" + _list(paths) + ")"
        if paths
        else (
            "(SELECT NULL::VARCHAR source_file, NULL::BIGINT source_record, NULL::VARCHAR reason, NULL::VARCHAR detail,"
            " NULL::VARCHAR raw, NULL::VARCHAR contact_point, NULL::VARCHAR party_id WHERE false)"
        )
    )
    # Rejects of files read this run, plus file-level problems (bad folder names...), each kept once.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_rejects AS
        SELECT DISTINCT ON (source_file, source_record, reason, detail) *
        FROM {source}
        WHERE source_file IN (SELECT source_file FROM stg_files) OR source_record IS NULL
        ORDER BY source_file, source_record, reason, detail
        """
    )
    con.execute(
        """
        INSERT INTO quarantine
        SELECT split_part(r.source_file, '/', 1), split_part(r.source_file, '/', 2), f.received_ts,
               r.source_file, r.source_record, r.reason, r.detail, r.raw, r.contact_point, r.party_id, $run_id
        FROM stg_rejects r
        LEFT JOIN stg_files f USING (source_file)
        WHERE NOT EXISTS (
            SELECT 1 FROM quarantine q
            WHERE q.source_file = r.source_file AND q.source_record IS NOT DISTINCT FROM r.source_record
              AND q.reason = r.reason AND q.detail IS NOT DISTINCT FROM r.detail
        )
        """,
        {"run_id": run_id},
    )


def _skips(con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    paths = staged_files(staging, "skips")
    source = (
        "read_parquet(" + _list(paths) + ")"
        if paths
        else (
            "(SELECT NULL::VARCHAR source_file, NULL::BIGINT source_record, NULL::VARCHAR reason WHERE false)"
        )
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_skips AS
        SELECT * FROM {source} WHERE source_file IN (SELECT source_file FROM stg_files)
        """
    )
