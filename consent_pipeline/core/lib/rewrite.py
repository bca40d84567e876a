"""Erasure on disk: the warehouse rewritten into a fresh file, so no erased value survives in freed storage.

DuckDB does not zero the blocks that an UPDATE, a DELETE or a CREATE OR REPLACE frees: a scrubbed value stays
in the file, and in the snapshot copied from it, until its block happens to be reused. A CHECKPOINT, or
rewriting a table in place, leaves it there too (`grep -a` finds it). So when the file may hold such bytes, the
run ends by copying every table, view and macro into a new file (`COPY FROM DATABASE`: only live rows) and
renaming it over the warehouse. The rename is atomic: a kill leaves the old file (still marked) or the new one.

The mark is the one-row table `warehouse_rewrite`, set when erasure scrubbed rows (in the same transaction)
or when a run finds that the run before it did not complete (it may have written rows that it never
scrubbed); the new file has it cleared before it replaces the old one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from consent_pipeline.core.lib.sql import text, timed, warehouse_tables
from consent_pipeline.lib import faults
from consent_pipeline.warehouse import Warehouse

log = logging.getLogger(__name__)

TABLE = "warehouse_rewrite"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _state(con: duckdb.DuckDBPyConnection, table: str = TABLE) -> None:
    """The one-row state table, created if missing."""
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {table} (
            pending BOOLEAN NOT NULL, reason VARCHAR, requested_at TIMESTAMP,
            rewritten_at TIMESTAMP, rewritten_by_run VARCHAR)
        """
    )
    con.execute(f"INSERT INTO {table} SELECT false, NULL, NULL, NULL, NULL WHERE NOT EXISTS (FROM {table})")


def request(con: duckdb.DuckDBPyConnection, reason: str) -> None:
    """Mark the warehouse file for a rewrite at the end of the next run that completes."""
    _state(con)
    con.execute(
        f"""
        UPDATE {TABLE} SET pending = true, reason = $reason,
               requested_at = CASE WHEN pending THEN requested_at ELSE $now END
        """,
        {"reason": reason, "now": _now()},
    )


def pending(con: duckdb.DuckDBPyConnection) -> bool:
    if TABLE not in warehouse_tables(con):
        return False
    return bool(con.execute(f"SELECT bool_or(pending) FROM {TABLE}").fetchall()[0][0])


def temp_path(warehouse: Path, run_id: str) -> Path:
    """The new file while it is written (core/lib/orphans.py removes one a killed run left)."""
    return warehouse.with_name(f".{warehouse.name}.{run_id}.rewrite.tmp")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Rewritten:
    reason: str
    seconds: float
    bytes_before: int
    bytes_after: int


def rewrite_if_pending(wh: Warehouse, run_id: str) -> Rewritten | None:
    """Rewrite the warehouse into a fresh file if it is marked; the caller holds the run lock."""
    if not wh.exists():
        return None
    with wh.connect() as con:
        if not pending(con):
            return None
        reason = con.execute(f"SELECT max(reason) FROM {TABLE}").fetchall()[0][0] or ""
    return rewrite(wh, run_id, reason)


def tables_with_rows(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The warehouse's own tables that hold at least one row."""
    return {t for t in warehouse_tables(con) if con.execute(f'SELECT EXISTS (FROM "{t}")').fetchall()[0][0]}


def can_rewrite_early(con: duckdb.DuckDBPyConnection, written_so_far: set[str]) -> bool:
    """Whether the file is marked and may be rewritten now, in the middle of a run: no table but
    `written_so_far` (the tables the run's stages up to the erasure write, all of them scrubbed) holds a row.
    The later stages then only add rows computed from scrubbed tables and free no block that held an erased
    value, so no rewrite is needed at the end, and this one copies the ingested tables only, not the derived
    ones (on a first run about a fifth of the file). A warehouse with rows from earlier runs' later stages
    (derived from before this run's erasures) waits for the end."""
    if not pending(con):
        return False
    others = sorted(tables_with_rows(con) - written_so_far)
    if others:
        log.debug("the rewrite waits for the end of the run: rows in %s", ", ".join(others[:5]))
    return not others


def rewrite(wh: Warehouse, run_id: str, reason: str = "") -> Rewritten:
    """Copy every table, view and macro into a new file and rename it over the warehouse."""
    started = time.perf_counter()
    path = wh.path
    tmp = temp_path(path, run_id)
    for leftover in (tmp, _wal(tmp)):
        leftover.unlink(missing_ok=True)
    before = path.stat().st_size
    try:
        with wh.connect() as con:
            con.execute("CHECKPOINT")  # everything committed is in the file, nothing in the WAL
            source = con.execute("SELECT current_database()").fetchall()[0][0]
            con.execute(f"ATTACH {text(str(tmp))} AS rewrite_target")
            timed(con, "rewrite warehouse", f'COPY FROM DATABASE "{source}" TO rewrite_target')
            _state(con, f"rewrite_target.{TABLE}")
            con.execute(
                f"UPDATE rewrite_target.{TABLE} SET pending = false, rewritten_at = $now, rewritten_by_run = $run",
                {"now": _now(), "run": run_id},
            )
            con.execute("DETACH rewrite_target")
        faults.pause("rewrite:copied")
        # A WAL left beside either file would be replayed into the wrong one.
        for wal in (_wal(tmp), _wal(path)):
            if wal.exists():
                raise RuntimeError(f"rewrite of {path}: {wal} exists after a clean close; nothing was replaced")
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        for leftover in (tmp, _wal(tmp)):
            leftover.unlink(missing_ok=True)
        raise
    done = Rewritten(reason, time.perf_counter() - started, before, path.stat().st_size)
    log.debug("rewrite warehouse (%s): %.2fs, %d -> %d bytes", reason, done.seconds, before, done.bytes_after)
    return done
