"""Snapshots for auditors: `<warehouse dir>/snapshots/<run_id>.duckdb`, a self-contained read-only copy of
the golden, permission, history, quarantine, ledger and audit tables of one run, with the table macros."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb

from consent_pipeline.core.merge import MACROS

# Everything auditors query; tables a stage has not built yet are left out.
SNAPSHOT_TABLES = (
    "parties",
    "contact_point_owner",
    "party_contact_points",
    "consent_current",
    "consent_history",
    "consent_effects",
    "consent_events",
    "contact_permission",
    "review_queue",
    "segments",
    "suppression",
    "optout_sla",
    "violations",
    "erasure_register",
    "quarantine",
    "ingest_ledger",
    "run_log",
)


def write_snapshot(
    con: duckdb.DuckDBPyConnection, folder: Path, run_id: str, tables: Iterable[str] = SNAPSHOT_TABLES
) -> Path:
    """Copy the tables into a new database file, written under a temporary name then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{run_id}.duckdb"
    tmp = folder / f".{run_id}.duckdb.tmp"
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    home = con.execute("SELECT current_database()").fetchall()[0][0]
    existing = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = ?",
            [home],
        ).fetchall()
    }
    con.execute(f"ATTACH '{tmp}' AS snap")
    try:
        for table in tables:
            if table in existing:
                con.execute(f'CREATE TABLE snap.main."{table}" AS SELECT * FROM "{home}".main."{table}"')
        con.execute("USE snap")
        for macro in MACROS:  # the same macros, answering from the snapshot's own tables
            con.execute(macro)
    finally:
        con.execute(f'USE "{home}"')
        con.execute("DETACH snap")
    os.replace(tmp, final)
    return final
