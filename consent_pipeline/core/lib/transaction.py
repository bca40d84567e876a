"""One transaction around a stage's writes: a run killed (or failing) at any point leaves the last good state."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

import duckdb

from consent_pipeline.core.lib import parquet_tables
from consent_pipeline.core.lib.sql import timed


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, label: str = "commit") -> Generator[None]:
    """BEGIN; COMMIT when the block ends; ROLLBACK on any exception (KeyboardInterrupt included), re-raised.
    `label` names the commit in the debug timings. After the commit, the Parquet table versions it superseded
    are removed (core/lib/parquet_tables.py)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        timed(con, label, "COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    parquet_tables.after_commit(con)
