"""A pipeline of named SQL steps (DuckDB SQL kept within what sqlglot transpiles faithfully to Spark).

Each step becomes a temporary table (or view) named after it, so later steps read earlier ones by name and
a stage is just its list of steps. Parameters are inlined as literals: the SQL stays engine-neutral.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    sql: str
    view: bool = False  # a view instead of a table (cheap, read once)


def ts(value: dt.datetime) -> str:
    """A naive-UTC timestamp literal."""
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"


def text(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def timed(con: duckdb.DuckDBPyConnection, label: str, sql: str, params: object = None) -> duckdb.DuckDBPyConnection:
    """Execute one statement and log its time (DEBUG: `bench/bench.py --profile` shows them)."""
    started = time.perf_counter()
    result = con.execute(sql, params) if params is not None else con.execute(sql)
    log.debug("%s: %.2fs", label, time.perf_counter() - started)
    return result


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the connection's own (not temporary) tables."""
    return {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database()"
        ).fetchall()
    }


def symmetric_difference(new: str, old: str, cols: str) -> str:
    """SQL for the rows (of `cols`) in one of two relations and not in the other."""
    return (
        f"((SELECT {cols} FROM {new} EXCEPT SELECT {cols} FROM {old})"
        f" UNION ALL (SELECT {cols} FROM {old} EXCEPT SELECT {cols} FROM {new}))"
    )


def run_steps(con: duckdb.DuckDBPyConnection, steps: Iterable[Step], params: Mapping[str, str] | None = None) -> None:
    for step in steps:
        sql = step.sql.format(**(params or {}))
        kind = "VIEW" if step.view else "TABLE"
        started = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP {kind} {step.name} AS {sql}")
        log.debug("step %s: %.2fs", step.name, time.perf_counter() - started)


def values_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: list[str] | dict[str, str],
    rows: Sequence[tuple[object, ...]],
) -> None:
    """A small temporary table from Python rows (reference data from rules). Columns are VARCHAR unless
    given as a name -> SQL type mapping."""
    types = columns if isinstance(columns, dict) else dict.fromkeys(columns, "VARCHAR")
    cols = ", ".join(f'"{c}" {t}' for c, t in types.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({cols})")
    if rows:
        # through a polars frame: executemany costs about 0.2 ms a row (12 s for 46,000 phone countries)
        frame = pl.DataFrame([tuple(r) for r in rows], schema=list(types), orient="row", infer_schema_length=None)
        con.register("_values_rows", frame)
        try:
            con.execute(f"INSERT INTO {name} SELECT * FROM _values_rows")
        finally:
            con.unregister("_values_rows")
