"""What an earlier run that did not complete left behind, cleaned up when the next run starts.

A run holds the run lock from start to end, so when one starts no other run is writing these files. It
removes only files whose names show the pipeline wrote them, in folders the pipeline owns:

- `<snapshots>/.<run_id>.duckdb.tmp` (and `.wal`): a snapshot being copied;
- `<warehouse dir>/.<warehouse name>.<run_id>.rewrite.tmp` (and `.wal`): a rewrite of the warehouse;
- `<staging>/<source>/` and `<staging>/.<source>.tmp/` holding only parquet files: batches read from the
  feeds and not yet in the event log (a run reads its feeds again; the ingest ledger says what is in);
- `duckdb_temp_*` files in the warehouse's spill folder, which the pipeline created and marked;
- `<warehouse dir>/.<warehouse name>.<run_id>.running`: the mark each run leaves until it completes;
- `<warehouse dir>/.spark-scratch.<pid>/`: a local Spark session's scratch folder (shuffled and exchanged
  rows), when its process is gone (a live one, e.g. `dagster dev`'s, keeps its own);
- `<CONSENT_SPARK_EXCHANGE>/.spark-exchange.<host>.<pid>/`: a Spark run's rows and batches in the shared
  exchange folder, when its process on this host is gone (another host's are that host's runs to remove);
- `<warehouse file>.tables/<table>/<version>/`: a Parquet table version no committed catalog row names (a
  killed run's, or one superseded), core/lib/parquet_tables.py. A run on DuckDB also turns the tables an
  earlier Spark run kept as Parquet back into tables of the file first (a warehouse may change engine).

Finding a `.running` mark of another run means that run was killed or failed: it may have written rows that
it never scrubbed into the warehouse file, so the file is marked for a rewrite (core/lib/rewrite.py), which the
next run that completes does.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from consent_pipeline.core.lib import parquet_tables, rewrite
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.warehouse import Warehouse
from consent_pipeline.warehouse.database import SPILL_MARKER

# Dagster's run ids.
RUN_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SNAPSHOT_TMP = re.compile(rf"\.({RUN_ID})\.duckdb\.tmp(\.wal)?")
SPILL_FILE = re.compile(r"duckdb_temp_[A-Za-z0-9_.-]+")
SPARK_SCRATCH = re.compile(r"\.spark-scratch\.(\d{1,10})")  # engines/spark.py scratch_name
SPARK_EXCHANGE = re.compile(r"\.spark-exchange\.(.+)\.(\d{1,10})")  # engines/spark.py exchange_name


@dataclass
class Cleanup:
    removed: list[Path] = field(default_factory=list[Path])
    unfinished_runs: list[str] = field(default_factory=list[str])  # runs whose `.running` mark was left
    from_parquet: list[str] = field(default_factory=list[str])  # tables turned back into DuckDB tables
    dropped: list[str] = field(default_factory=list[str])  # Parquet tables that could not be read, to rebuild


def running_mark(warehouse: Path, run_id: str) -> Path:
    return warehouse.with_name(f".{warehouse.name}.{run_id}.running")


def _beside_warehouse(warehouse: Path, suffix: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(warehouse.name)}\.({RUN_ID})\.{suffix}")


def _files(folder: Path) -> list[Path]:
    """Plain files directly in a folder (symlinks and subfolders are not ours to remove)."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]


def _staged_batch(folder: Path) -> bool:
    """A folder as core/ingest/staging.py writes it: parquet files only."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    entries = list(folder.iterdir())
    return all(p.is_file() and not p.is_symlink() and p.suffix == ".parquet" for p in entries)


def _alive(pid: int) -> bool:
    """Whether a process of that id runs (another user's counts as running: not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_process_folders(folder: Path, pattern: re.Pattern[str], host: str | None = None) -> list[Path]:
    """Subfolders of `folder` named by `pattern` (its last group a process id, the one before it a host when
    `host` is given) whose process, on this host, is gone."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    found: list[Path] = []
    for path in folder.iterdir():
        match = pattern.fullmatch(path.name)
        if not match or not path.is_dir() or path.is_symlink():
            continue
        if host is not None and match.group(1) != host:
            continue
        if not _alive(int(match.group(match.lastindex or 0))):
            found.append(path)
    return found


def start_run(
    wh: Warehouse,
    snapshots: Path,
    staging: Path,
    sources: Iterable[str],
    run_id: str,
    spark_exchange: Path | None = None,
    keep_parquet: bool = False,
    full_rebuild: bool = False,
) -> Cleanup:
    """Remove what earlier runs left, mark the warehouse for a rewrite if one of them did not complete, and
    leave this run's own `.running` mark. The caller holds the run lock. `spark_exchange`: the shared folder
    Spark runs exchange rows in (CONSENT_SPARK_EXCHANGE), if any; `keep_parquet`: whether this run keeps tables
    as Parquet (a Spark run), else those an earlier run kept so are turned back into tables of the file;
    `full_rebuild`: such tables whose version cannot be read are dropped, for the run to rebuild them."""
    out = Cleanup()
    own = {run_id}

    def remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        out.removed.append(path)

    for path in _files(snapshots):
        match = SNAPSHOT_TMP.fullmatch(path.name)
        if match and match.group(1) not in own:
            remove(path)
    rewrite_tmp = _beside_warehouse(wh.path, r"rewrite\.tmp(\.wal)?")
    running = _beside_warehouse(wh.path, "running")
    for path in _files(wh.path.parent):
        if (match := rewrite_tmp.fullmatch(path.name)) and match.group(1) not in own:
            remove(path)
        elif (match := running.fullmatch(path.name)) and match.group(1) not in own:
            out.unfinished_runs.append(match.group(1))
    for path in _dead_process_folders(wh.path.parent, SPARK_SCRATCH):
        remove(path)
    if spark_exchange is not None:
        for path in _dead_process_folders(spark_exchange, SPARK_EXCHANGE, socket.gethostname()):
            remove(path)
    if staging.is_dir() and not staging.is_symlink():
        for source in sources:
            for folder in (staging / source, staging / f".{source}.tmp"):
                if _staged_batch(folder):
                    remove(folder)
    spill = wh.spill_dir
    if (spill / SPILL_MARKER).is_file():
        for path in _files(spill):
            if SPILL_FILE.fullmatch(path.name):
                remove(path)

    if wh.exists():
        with wh.connect() as con:
            if full_rebuild:  # the tables whose versions cannot be read are rebuilt whole by this run
                out.dropped = parquet_tables.drop_unreadable(con)
            parquet_tables.repoint(con)  # a warehouse without its Parquet tables stops here
            if not keep_parquet and parquet_tables.has_catalog(con):
                with transaction(con, "tables back from parquet"):  # its commit removes the versions
                    out.from_parquet = parquet_tables.materialise(con)
            out.removed += parquet_tables.sweep(con)

    if out.unfinished_runs and wh.exists():
        with wh.connect() as con:
            rewrite.request(con, f"run {sorted(out.unfinished_runs)[0]} did not complete")
    for run in out.unfinished_runs:  # only once the rewrite is requested: a kill before leaves them
        running_mark(wh.path, run).unlink(missing_ok=True)
    mark = running_mark(wh.path, run_id)
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(f"pid {os.getpid()}\n", encoding="utf-8")
    return out


def finish_run(wh: Warehouse, run_id: str) -> None:
    """The run completed (its snapshot is written): nothing of it needs cleaning up."""
    running_mark(wh.path, run_id).unlink(missing_ok=True)
