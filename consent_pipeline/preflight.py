"""What a run checks before it reads a feed: every folder it writes is a real folder it can write to, and no
other process has the warehouse open. Each problem is one line (CouldNotStart, UnsafePath or
WarehouseLocked), and the CLI exits 2: nothing was read or written."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from consent_pipeline.config import Settings
from consent_pipeline.core.lib import parquet_tables
from consent_pipeline.lib.safe_paths import probe_writable, refuse_symlink
from consent_pipeline.warehouse import Warehouse


class CouldNotStart(RuntimeError):
    """A run cannot start; the message says what and where."""


@contextlib.contextmanager
def started(settings: Settings, warehouse: Warehouse) -> Iterator[None]:
    """Check everything that can be checked before a feed is read, and hold the run lock meanwhile."""
    warehouse.refuse_links()
    writable(warehouse.real.parent, "warehouse folder")
    try:
        warehouse.acquire()
    except OSError as exc:
        raise CouldNotStart(f"cannot create the lock file {warehouse.lock_path}: {exc.strerror or exc}") from None
    try:
        preflight(settings, warehouse)
        yield
    finally:
        warehouse.release()


def preflight(settings: Settings, warehouse: Warehouse) -> None:
    """Raise CouldNotStart / UnsafePath / WarehouseLocked when the run cannot start. The caller holds the
    run lock."""
    warehouse.refuse_links()
    folders = [
        (warehouse.real.parent, "warehouse folder"),
        (settings.extracts, "extracts folder"),
        (settings.snapshots, "snapshots folder"),
        (settings.staging, "staging folder"),
    ]
    if not os.environ.get("DAGSTER_HOME"):  # the default beside the warehouse (one the operator set is theirs)
        folders.append((settings.dagster_home, "Dagster home folder"))
    if settings.temp_directory is not None:
        folders.append((settings.temp_directory, "spill folder (CONSENT_TEMP_DIR)"))
    for folder, what in folders:
        writable(folder, what)
    refuse_symlink(settings.extracts / f"{settings.as_of:%Y-%m-%d}", "extract folder")
    # An auditor's DuckDB session holds the file until it is closed: found here, not after every feed is read.
    try:
        warehouse.check_not_in_use()
    except duckdb.IOException as exc:  # a file DuckDB cannot open or write (not a lock: WarehouseLocked)
        raise CouldNotStart(f"cannot open the warehouse {warehouse.path}: {_first_line(exc)}") from None
    if warehouse.exists():  # a Spark run's tables kept as Parquet are beside the file
        with warehouse.connect() as con:
            problem = parquet_tables.version_problem(con)
        if problem and not settings.full_rebuild:  # a full rebuild recomputes them (core/lib/orphans.py)
            raise CouldNotStart(problem)


def writable(folder: Path, what: str) -> None:
    try:
        probe_writable(folder, what)
    except OSError as exc:
        raise CouldNotStart(f"cannot write to the {what} {folder}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
