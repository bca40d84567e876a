"""Snapshots for auditors: `<warehouse dir>/snapshots/<run_id>.duckdb`, a self-contained read-only copy of
the warehouse as the run left it: golden, permission, history, quarantine, ledger and audit tables, with the
table macros.

The copy is of the database file itself, after a checkpoint (every change written into the file), under a
temporary name then renamed: a file copy runs at disk speed, where copying table by table through DuckDB
re-encoded every row (52 s against about 3 s for a 3 GB warehouse).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from consent_pipeline.lib.safe_paths import copy_nofollow, refuse_symlink


def write_snapshot(warehouse: Path, folder: Path, run_id: str) -> Path:
    """Copy the warehouse file (the caller holds the run lock, so nothing writes meanwhile)."""
    refuse_symlink(folder, "snapshots folder")
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{run_id}.duckdb"
    tmp = folder / f".{run_id}.duckdb.tmp"
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    copy_nofollow(warehouse, tmp)  # a link planted at the temporary name is replaced, never written through
    os.replace(tmp, final)
    return final
