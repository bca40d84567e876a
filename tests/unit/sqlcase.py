"""The unit layer for SQL steps: given tables, run one stage's steps on an in-memory DuckDB, compare rows.

A case is plain data: the rows of each input table (lists of dicts) and the rows expected out. Reference
tables come from the shipped rules (`load_reference`), or from edited rules where a case is about them.
Each case runs in milliseconds, so every boundary of a rule can have its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from consent_pipeline.config import Rules
from consent_pipeline.core.reference import load_reference


def database(rules: Rules, tables: Mapping[str, Sequence[Mapping[str, Any]] | pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the rules' reference tables and the given input tables."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    load_reference(con, rules)
    for name, rows in tables.items():
        frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(list(rows), infer_schema_length=None)
        con.register(f"_given_{name}", frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "_given_{name}"')
        con.unregister(f"_given_{name}")
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str, columns: Iterable[str]) -> list[tuple[Any, ...]]:
    cols = ", ".join(f'"{c}"' for c in columns)
    return sorted(con.execute(f"SELECT {cols} FROM ({sql})").fetchall(), key=repr)


def days_before(as_of: dt.datetime, days: int) -> dt.datetime:
    return as_of - dt.timedelta(days=days)
