"""Warehouse tables kept as Parquet: version folders behind views (issue 14, docs/scale-out.md).

A Spark run keeps its large derived tables (the engine says which) as Parquet, so that Spark reads them where
they are instead of the pipeline process sending their rows: each version of a table is a folder,
`<warehouse file>.tables/<table>/<version>/`, and the DuckDB file holds a view of the table's name over the
version in force (casting to the column types DuckDB gives the SQL that wrote it) and a catalog row
(`parquet_versions`). The DuckDB file stays the commit point: a write makes a new folder first, then switches
the view and the catalog inside the stage's transaction. A run killed before the commit leaves the view
naming the old version; a folder no committed catalog row names (superseded, or written by a run that did
not commit) is removed after every commit and when a run starts: it may hold values erasure has since
scrubbed, which must not outlive the run on any disk.

A run on DuckDB turns the views back into tables when it starts (`to_tables`): a warehouse may change engine
between nights. A snapshot materialises them (`materialise`): it must stay self-contained.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

import duckdb

from consent_pipeline.core.lib.sql import PARQUET_CATALOG, object_kind, text, timed
from consent_pipeline.warehouse.database import PARQUET_SUFFIX

log = logging.getLogger(__name__)

CATALOG = PARQUET_CATALOG
DATA = "data.parquet"


def root_of(warehouse: Path) -> Path:
    """The folder of the warehouse file's Parquet tables."""
    return warehouse.with_name(warehouse.name + PARQUET_SUFFIX)


def _root_or_none(con: duckdb.DuckDBPyConnection) -> Path | None:
    found = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return root_of(Path(found[0][0])) if found and found[0][0] else None


def root(con: duckdb.DuckDBPyConnection) -> Path:
    """The Parquet tables' folder of the connection's warehouse file."""
    found = _root_or_none(con)
    if found is None:
        raise RuntimeError("Parquet tables need a warehouse file (the connection is to an in-memory database)")
    return found


def has_catalog(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database() "
            "AND table_name = $t",
            {"t": CATALOG},
        ).fetchall()[0][0]
    )


class MissingVersions(RuntimeError):
    """The catalog names versions that cannot be read beside the warehouse file (a file copied or restored
    without its `.tables` folder, or a damaged file): the run stops rather than read or replace tables it
    does not have, unless it rebuilds them (`drop_unreadable`)."""


def kept(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[list[Path], int]]:
    """Each table kept as Parquet, as the connection sees it (its open transaction included): its version's
    files and rows."""
    if not has_catalog(con):
        return {}
    base = root(con)
    rows = con.execute(f"SELECT table_name, folder, files, rows FROM {CATALOG}").fetchall()
    return {t: ([base / t / folder / f for f in files], int(n)) for t, folder, files, n in rows}


def casts(columns: list[tuple[object, ...]]) -> str:
    """The select list that gives Parquet's columns DuckDB's types (`DESCRIBE` rows: name, type, ...)."""
    return ", ".join(f'CAST("{c[0]}" AS {c[1]}) AS "{c[0]}"' for c in columns)


def over_files(columns: list[tuple[object, ...]], files: list[Path]) -> str:
    """A query of the files' rows with DuckDB's column types."""
    return f"SELECT {casts(columns)} FROM read_parquet({_files_sql(files)})"


def _files_sql(files: list[Path]) -> str:
    # a list of literal paths: a glob would take `[ ] { } * ?` in a folder's name for a pattern
    return "[" + ", ".join(text(str(f)) for f in files) + "]"


def write_version(
    con: duckdb.DuckDBPyConnection, table: str, source: str, where: str | None = None, order: str | None = None
) -> int:
    """`table` as a new Parquet version (the caller holds the stage's transaction): `source`'s rows (in `order`
    if given) when `where` is None, else the table's rows that `where` does not select plus `source`'s (a
    scope's rows replaced; cast to the table's column types, as an INSERT would). Returns the rows written."""
    if where is None:
        sort = f" ORDER BY {order}" if order else ""
        rows_sql = f"SELECT * FROM {source}{sort}"
        columns = con.execute(f"DESCRIBE {rows_sql}").fetchall()
    else:
        columns = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        names = ", ".join(f'"{c[0]}"' for c in columns)
        # `IS NOT TRUE`: a row the condition leaves NULL is kept, as DELETE ... WHERE keeps it
        rows_sql = f"SELECT * FROM {table} WHERE ({where}) IS NOT TRUE UNION ALL SELECT {names} FROM {source}"
    version = uuid.uuid4().hex
    folder = root(con) / table / version
    folder.mkdir(parents=True)
    path = folder / DATA
    written = timed(
        con,
        f"write {table} (parquet)",
        f"COPY (SELECT {casts(columns)} FROM ({rows_sql})) TO {text(str(path))} (FORMAT parquet, COMPRESSION zstd)",
    ).fetchall()
    rows = int(written[0][0]) if written else 0
    switch(con, table, version, [DATA], rows, columns)
    return rows


def switch(
    con: duckdb.DuckDBPyConnection,
    table: str,
    version: str,
    files: list[str],
    rows: int,
    columns: list[tuple[object, ...]],
) -> None:
    """Make `version` (its `files` in `<root>/<table>/<version>/`, already written) the table's version in force:
    the view over it and the catalog row, in the caller's transaction."""
    folder = root(con) / table / version
    if object_kind(con, table) == "BASE TABLE":  # a DuckDB run's table: its rows are now in the version
        con.execute(f"DROP TABLE {table}")
    con.execute(f"CREATE OR REPLACE VIEW {table} AS {over_files(columns, [folder / f for f in files])}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {CATALOG} (table_name VARCHAR, folder VARCHAR, files VARCHAR[], rows BIGINT, "
        "columns VARCHAR, written_at TIMESTAMP)"
    )
    con.execute(f"DELETE FROM {CATALOG} WHERE table_name = $t", {"t": table})
    con.execute(
        f"INSERT INTO {CATALOG} VALUES ($t, $v, $f, $n, $c, now()::TIMESTAMP)",
        {"t": table, "v": version, "f": files, "n": rows, "c": casts(columns)},
    )


def unreadable(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The tables whose version in force cannot be read, each with why: a file not beside the warehouse file
    (one copied or restored without its folder), or one whose Parquet footer DuckDB cannot read (damaged)."""
    found: dict[str, str] = {}
    for table, (files, _) in sorted(kept(con).items()):
        gone = [f for f in files if not f.is_file()]
        if gone:
            found[table] = f"{gone[0]} is not there"
            continue
        try:
            con.execute(f"SELECT count(*) FROM parquet_file_metadata({_files_sql(files)})").fetchall()
        except duckdb.Error as e:
            found[table] = f"{files[0].parent} cannot be read ({str(e).splitlines()[0]})"
    return found


def version_problem(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why a run cannot use the tables kept as Parquet (None: it can), and what to do: put the folder back, or
    recompute them (they are derived from the event log) with a full rebuild."""
    bad = unreadable(con)
    if not bad:
        return None
    first = next(iter(bad))
    return (
        f"the warehouse's Parquet tables cannot be read ({', '.join(bad)}: {bad[first]}): put the folder "
        f"{root(con).name} back beside the warehouse file as it was, or run with --full-rebuild to recompute "
        "those tables from the event log"
    )


def drop_unreadable(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A full rebuild's start: the tables whose version cannot be read are dropped (view and catalog row, in one
    transaction whose commit's sweep removes their folders), so the run rebuilds them whole from the event
    log. Returns them. (Looked for before the transaction: a failed read aborts a DuckDB transaction.)"""
    from consent_pipeline.core.lib.transaction import transaction  # which imports this module (its sweep)

    bad = sorted(unreadable(con))
    if bad:
        with transaction(con, "unreadable parquet tables dropped"):
            for table in bad:
                con.execute(f"DROP VIEW IF EXISTS {table}")
                con.execute(f"DELETE FROM {CATALOG} WHERE table_name = $t", {"t": table})
    return bad


def repoint(con: duckdb.DuckDBPyConnection) -> None:
    """Check that every version the catalog names can be read beside the warehouse file, and point each view
    at it there (the views name absolute paths: a warehouse moved with its folder reads its own files).
    Raises MissingVersions, saying what to do, when some cannot."""
    versions = kept(con)
    if not versions:
        return
    problem = version_problem(con)
    if problem:
        raise MissingVersions(problem)
    selects = dict(con.execute(f"SELECT table_name, columns FROM {CATALOG}").fetchall())
    for table, (files, _) in versions.items():
        con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {selects[table]} FROM read_parquet({_files_sql(files)})")


def sweep(con: duckdb.DuckDBPyConnection) -> list[Path]:
    """Remove every folder under the Parquet tables' folder that no catalog row names (call it outside a
    transaction: what the catalog names then is committed). Returns what it removed."""
    base = root(con)
    if not base.is_dir():
        return []
    named = {base / t / folder for t, (files, _) in kept(con).items() for folder in {f.parent.name for f in files}}
    removed: list[Path] = []
    for table_dir in sorted(base.iterdir()):
        if table_dir.is_dir() and not table_dir.is_symlink():
            for version in sorted(table_dir.iterdir()):
                if version not in named:
                    _remove(version)
                    removed.append(version)
            if not any(table_dir.iterdir()):
                table_dir.rmdir()
        else:  # nothing but version folders belongs here
            _remove(table_dir)
            removed.append(table_dir)
    if not any(base.iterdir()):
        base.rmdir()
    if removed:
        log.debug("removed %d Parquet versions no table names", len(removed))
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def after_commit(con: duckdb.DuckDBPyConnection) -> None:
    """A transaction committed: the versions it superseded go (they may hold values erasure has scrubbed)."""
    base = _root_or_none(con)
    if base is not None and base.is_dir():
        sweep(con)


def materialise(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table kept as Parquet as a DuckDB table of the same name and rows, and the catalog dropped (the
    caller holds a transaction, and sweeps after its commit). Returns the tables turned back."""
    turned = sorted(kept(con))
    for table in turned:
        tmp = f"{table}__materialised"
        timed(con, f"materialise {table}", f"CREATE OR REPLACE TABLE {tmp} AS SELECT * FROM {table}")
        con.execute(f"DROP VIEW {table}")
        con.execute(f"ALTER TABLE {tmp} RENAME TO {table}")
    if has_catalog(con):
        con.execute(f"DROP TABLE {CATALOG}")
    return turned
