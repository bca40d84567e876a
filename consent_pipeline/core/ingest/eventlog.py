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
from consent_pipeline.core.ingest.staging import staged_files
from consent_pipeline.core.lib.sql import timed
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.warehouse.schema import ID_COLUMN, WAREHOUSE_NAME, ensure_ingest_tables

NUL = "chr(0)"
RETRY_SQL = "('unexpected', 'failed')"  # ledger statuses of files looked at again (core/ingest/landing.py)
# Rows a changed file may still bring in: those that can only restrict (per table, a SQL condition).
NARROWING = {
    "events": "status = 'opt_out'",
    "undeliverable": "true",
    "erasure_requests": "true",
    "registry_listings": "true",
    "sends": "true",
    "reviews": "true",
}  # stands for NULL inside the identity hash, so (NULL, 'x') != ('x', NULL)


def identity_sql(
    columns: tuple[str, ...], sighting: tuple[str, str] | None = None, when_set: tuple[str, ...] = ()
) -> str:
    """The SQL of a row's identity: the first 32 hex digits of the SHA-256 of its content columns. A row
    dated at its first sighting (`sighting` = (time column, flag column)) stands in for its time with a
    marker, so the same record seen again later is a duplicate, not a new event. Columns `when_set` count
    only when not null (concat_ws skips a null): rows stored before those columns existed keep their ids."""

    def term(c: str) -> str:
        if sighting is not None and c == sighting[0]:
            return f"""CASE WHEN "{sighting[1]}" THEN 'first sighting' ELSE CAST("{c}" AS VARCHAR) END"""
        return f'CAST("{c}" AS VARCHAR)'

    parts = ", ".join(
        [f"coalesce({term(c)}, {NUL})" for c in columns]
        + [f"""CASE WHEN "{c}" IS NOT NULL THEN '{c}=' || CAST("{c}" AS VARCHAR) END""" for c in when_set]
    )
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


def ingest_staged(con: duckdb.DuckDBPyConnection, staging: Path, run_id: str, now: dt.datetime) -> IngestSummary:
    """Ingest every staged source into the warehouse in one transaction."""
    ensure_ingest_tables(con)
    files = staged_files(staging, "files")
    if not files:
        return IngestSummary(0, 0, 0, 0, 0, 0, {})
    with transaction(con, "event log commit"):
        return _ingest(con, staging, files, run_id, now)


def _ingest(
    con: duckdb.DuckDBPyConnection, staging: Path, files: list[str], run_id: str, now: dt.datetime
) -> IngestSummary:
    # Files not ingested before (a stale staged batch of an ingested file is ignored).
    # Files this run read: new ones, ones looked at again (their earlier ledger and file-level quarantine
    # rows are replaced), and new versions of changed ones. A staged batch of a file already in the ledger
    # with the same bytes is stale (a run killed after staging) and ignored.
    timed(
        con,
        "staged files",
        f"""
        CREATE OR REPLACE TEMP TABLE stg_files AS
        SELECT DISTINCT * FROM read_parquet({_list(files)}, union_by_name = true) s
        WHERE NOT EXISTS (
            SELECT 1 FROM ingest_ledger l
            WHERE l.source_file = s.source_file AND coalesce(l.file_status, 'read') NOT IN {RETRY_SQL}
              AND (l.file_sha256 IS NOT DISTINCT FROM s.file_sha256 OR s.file_note IS DISTINCT FROM 'changed')
        )
        """,
    )
    con.execute(
        f"""
        DELETE FROM quarantine WHERE source_record IS NULL AND source_file IN (
            SELECT l.source_file FROM ingest_ledger l JOIN stg_files s USING (source_file)
            WHERE l.file_status IN {RETRY_SQL})
        """
    )
    con.execute(
        f"""
        DELETE FROM ingest_ledger WHERE file_status IN {RETRY_SQL}
          AND source_file IN (SELECT source_file FROM stg_files)
        """
    )
    new_rows: dict[str, int] = {}
    part_selects: list[str] = []
    held_selects: list[str] = []
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
                SELECT {identity_sql(spec.identity, spec.sighting, spec.identity_when_set)} AS "{id_col}", {cols}
                FROM read_parquet({_list(paths)}, union_by_name = true)
                WHERE source_file IN (SELECT source_file FROM stg_files)
            ), marked AS (
                SELECT s.*,
                       (row_number() OVER (PARTITION BY s."{id_col}"
                                           ORDER BY s.received_ts, s.source_file, s.source_record) = 1
                        AND known."{id_col}" IS NULL) AS first_copy,
                       s.source_file IN (SELECT source_file FROM stg_files WHERE file_note = 'changed')
                       AND NOT ({NARROWING.get(name, "false")}) AS from_changed
                FROM staged s
                LEFT JOIN (SELECT DISTINCT "{id_col}" FROM "{target}") known USING ("{id_col}")
            )
            SELECT * EXCLUDE (first_copy, from_changed),
                   first_copy AND NOT from_changed AS is_new, first_copy AND from_changed AS held
            FROM marked
            """,
        )
        timed(
            con,
            f"insert {target}",
            f'INSERT INTO "{target}" SELECT "{id_col}", {cols} FROM stg_{name} WHERE is_new',
        )
        _keep_first_delivery(con, name, target, id_col, spec.sighting)
        new_rows[target] = con.execute(f"SELECT count(*) FILTER (is_new) FROM stg_{name}").fetchall()[0][0]
        if spec.counts_as_part:
            part_selects.append(
                f"SELECT source_file, source_record, is_new FROM stg_{name}"
                " WHERE source_record IS NOT NULL AND NOT held"
            )
        held_selects.append(f"SELECT source_file, source_record FROM stg_{name} WHERE held")
    parts_sql = (
        " UNION ALL ".join(part_selects)
        if part_selects
        else ("SELECT NULL::VARCHAR AS source_file, NULL::BIGINT AS source_record, NULL::BOOLEAN AS is_new WHERE false")
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_parts AS
        SELECT source_file, source_record, bool_or(is_new) AS any_new FROM ({parts_sql}) GROUP BY ALL
        """
    )
    _quarantine(con, staging, run_id, held_selects)
    _skips(con, staging)
    _landing_report(con, staging, run_id)
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
               $run_id, $now, coalesce(f.file_status, 'read'), f.file_sha256, f.file_bytes, f.file_mtime_ns,
               f.file_note
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


def _keep_first_delivery(
    con: duckdb.DuckDBPyConnection, name: str, target: str, id_col: str, sighting: tuple[str, str] | None
) -> None:
    """A duplicate delivered earlier than the copy already stored (deliveries ingested out of order) becomes
    the stored copy's lineage: a row's lineage is always its first delivery, whatever order runs saw them.
    A row dated at its first sighting takes that delivery's time too."""
    redate = (
        f', "{sighting[0]}" = CASE WHEN t."{sighting[1]}" THEN s."{sighting[0]}" ELSE t."{sighting[0]}" END'
        if sighting
        else ""
    )
    timed(
        con,
        f"first delivery {target}",
        f"""
        UPDATE "{target}" AS t
        SET received_ts = s.received_ts, delivery = s.delivery, source_file = s.source_file,
            source_record = s.source_record, source_record_id = s.source_record_id{redate}
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


def _quarantine(con: duckdb.DuckDBPyConnection, staging: Path, run_id: str, held_selects: list[str]) -> None:
    paths = staged_files(staging, "rejects")
    source = (
        "read_parquet(" + _list(paths) + ", union_by_name = true)"
        if paths
        else (
            "(SELECT NULL::VARCHAR source_file, NULL::BIGINT source_record, NULL::VARCHAR reason, NULL::VARCHAR detail,"
            " NULL::VARCHAR raw, NULL::VARCHAR contact_point, NULL::VARCHAR party_id WHERE false)"
        )
    )
    # New records of a changed file that could widen a permission are quarantined, not applied.
    held = " UNION ".join(held_selects) if held_selects else "SELECT NULL::VARCHAR, NULL::BIGINT WHERE false"
    # Rejects of files read this run, plus file-level problems (bad folder names...), each kept once.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_rejects AS
        WITH all_rejects AS (
            SELECT source_file, source_record, reason, detail, raw, contact_point, party_id FROM {source}
            UNION ALL
            SELECT h.source_file, h.source_record, 'file_changed',
                   'new in a file whose bytes changed after it was read: only restrictions (opt-outs...) apply',
                   NULL, NULL, NULL
            FROM ({held}) h(source_file, source_record)
        )
        SELECT DISTINCT ON (source_file, source_record, reason, detail) *
        FROM all_rejects
        WHERE source_file IN (SELECT source_file FROM stg_files) OR source_record IS NULL
        ORDER BY source_file, source_record, reason, detail
        """
    )
    _fill_held_raw(con, staging)
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


def _fill_held_raw(con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    """The raw text of records held from a changed file (every record's text is staged with its batch)."""
    paths = staged_files(staging, "raw")
    if not paths:
        con.execute("UPDATE stg_rejects SET raw = source_file WHERE raw IS NULL")
        return
    con.execute(
        f"""
        UPDATE stg_rejects r SET raw = t.raw
        FROM read_parquet({_list(paths)}) t
        WHERE r.raw IS NULL AND r.reason = 'file_changed'
          AND t.source_file = r.source_file AND t.source_record = r.source_record
        """
    )
    con.execute("UPDATE stg_rejects SET raw = source_file WHERE raw IS NULL")


def _landing_report(con: duckdb.DuckDBPyConnection, staging: Path, run_id: str) -> None:
    """What this run found and held back, or read with a caveat (schema.LANDING_REPORT): replaced whole."""
    paths = staged_files(staging, "held")
    held = (
        f"""SELECT source, delivery, source || '/' || delivery, reason, detail
            FROM read_parquet({_list(paths)})"""
        if paths
        else "SELECT NULL, NULL, NULL, NULL, NULL WHERE false"
    )
    con.execute("DELETE FROM landing_report")
    con.execute(
        f"""
        INSERT INTO landing_report
        SELECT *, $run_id FROM (
            SELECT split_part(source_file, '/', 1), split_part(source_file, '/', 2), source_file, reason, detail
            FROM stg_rejects WHERE source_record IS NULL
            UNION ALL
            SELECT source, delivery, source_file,
                   CASE file_note WHEN 'changed' THEN 'file_changed' ELSE 'late_file' END,
                   CASE file_note WHEN 'changed'
                        THEN 'its bytes changed after it was read: read again, only restrictions applied'
                        ELSE 'it appeared in a delivery read before: read' END
            FROM stg_files WHERE file_note IS NOT NULL
            UNION ALL
            {held}
        )
        """,
        {"run_id": run_id},
    )


def _skips(con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    paths = staged_files(staging, "skips")
    source = (
        "read_parquet(" + _list(paths) + ")"
        if paths
        else ("(SELECT NULL::VARCHAR source_file, NULL::BIGINT source_record, NULL::VARCHAR reason WHERE false)")
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE stg_skips AS
        SELECT * FROM {source} WHERE source_file IN (SELECT source_file FROM stg_files)
        """
    )
