"""How the ingest ledger counts a connector's batch, for the connector tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from consent_pipeline.canonical import TABLES, Batch
from consent_pipeline.core.ingest.eventlog import ingest_staged
from consent_pipeline.core.ingest.staging import write_batch


def accounted(batch: Batch) -> dict[str, tuple[int, int, int]]:
    """Per file name: (accepted, skipped, quarantined) records, counted as the ingest ledger does; asserts
    that every record read is exactly one of them. File-level rows (a registry snapshot) are not records."""
    parts: set[tuple[str, int]] = set()
    for name in batch.table_names:
        if TABLES[name].counts_as_part:
            frame = batch.table(name).drop_nulls("source_record")
            parts |= set(frame.select("source_file", "source_record").iter_rows())
    rejected = set(batch.rejects.drop_nulls("source_record").select("source_file", "source_record").iter_rows()) - parts
    skipped = set(batch.skips.select("source_file", "source_record").iter_rows()) - parts - rejected
    out = {}
    for file, rows_read in batch.files.select("source_file", "rows_read").iter_rows():
        sets = [{n for f, n in s if f == file} for s in (parts, skipped, rejected)]
        assert set().union(*sets) == set(range(1, rows_read + 1)), file
        out[file.rsplit("/", 1)[1]] = tuple(len(s) for s in sets)
    return out


def ingest(batch: Batch, tmp: Path) -> tuple[list[tuple], list[tuple]]:
    """The ledger and quarantine rows the event log writes for a batch (a real DuckDB file)."""
    write_batch(batch, tmp / "staging")
    con = duckdb.connect(str(tmp / "w.duckdb"))
    try:
        ingest_staged(con, tmp / "staging", "r1", dt.datetime(2026, 3, 1, 6))
        ledger = con.execute(
            "SELECT rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined"
            " FROM ingest_ledger ORDER BY source_file"
        ).fetchall()
        quarantine = con.execute("SELECT source_record, reason FROM quarantine ORDER BY 1, 2").fetchall()
    finally:
        con.close()
    return ledger, quarantine
