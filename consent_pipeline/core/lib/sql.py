"""A pipeline of named SQL steps (DuckDB SQL kept within what sqlglot transpiles faithfully to Spark).

Each step becomes a temporary table (or view) named after it, so later steps read earlier ones by name and
a stage is just its list of steps. Parameters are inlined as literals: the SQL stays engine-neutral.

A step's SQL lives in a file, `core/<domain>/sql/<step>.sql`, with a header the loader checks:

    -- step: m_events
    -- kind: table                                  (table, view or statement)
    -- parameters: event_scope (condition)          (or `none`)

Parameters are `{name}` placeholders filled by `str.format` (a literal brace is written twice); their types
(`timestamp`, `number`, `text`, `list`, `condition`, `relation`) say what the orchestration inlines, so a lint can
fill them with sample values. Text from rules or operators goes in only through `text()` / `ts()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import re
import string
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    sql: str
    view: bool = False  # a view instead of a table (cheap, read once)


KINDS = ("table", "view", "statement")
# What a parameter's inlined text is, and a sample of it (the engine-neutral lint renders every file with these).
PARAMETER_SAMPLES = {
    "timestamp": "TIMESTAMP '2026-03-01 06:00:00'",
    "number": "7",
    "list": "'a', 'b'",
    "text": "'a'",
    "condition": "true",
    "relation": "some_table",
}
_HEADER = re.compile(r"^--\s*(step|kind|parameters):\s*(.*?)\s*$")
_PARAMETER = re.compile(r"^(\w+)\s*\((\w+)\)$")


class SqlFileError(ValueError):
    """A `.sql` file whose header is missing, malformed or does not match its body."""


@dataclass(frozen=True)
class SqlFile:
    path: Path
    name: str
    kind: str
    parameters: dict[str, str]  # name -> type (a key of PARAMETER_SAMPLES)
    sql: str  # the body, without the header

    def render(self, params: Mapping[str, str] | None = None) -> str:
        return self.sql.format(**(params or {}))

    def sample(self) -> str:
        """The body with every parameter replaced by a sample of its type."""
        return self.render({k: PARAMETER_SAMPLES[t] for k, t in self.parameters.items()})


@functools.cache
def read_sql_file(path: Path) -> SqlFile:
    """Parse and check one `.sql` file (cached: each is read once per process)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header: dict[str, str] = {}
    body_start = 0
    for i, line in enumerate(lines):
        if not line.startswith("--"):
            body_start = i
            break
        match = _HEADER.match(line)
        if match:
            header[match.group(1)] = match.group(2)
    else:
        body_start = len(lines)
    where = f"{path}"
    if header.get("step") != path.stem:
        raise SqlFileError(f"{where}: header `-- step: {path.stem}` missing or naming another step")
    kind = header.get("kind", "")
    if kind not in KINDS:
        raise SqlFileError(f"{where}: header `-- kind:` must be one of {', '.join(KINDS)}, not {kind!r}")
    parameters: dict[str, str] = {}
    declared = header.get("parameters")
    if declared is None:
        raise SqlFileError(f"{where}: header `-- parameters:` missing (write `none` when it takes none)")
    if declared != "none":
        for item in declared.split(","):
            match = _PARAMETER.match(item.strip())
            if not match or match.group(2) not in PARAMETER_SAMPLES:
                raise SqlFileError(
                    f"{where}: parameter {item.strip()!r} must be `name (type)`, a type of "
                    f"{', '.join(PARAMETER_SAMPLES)}"
                )
            parameters[match.group(1)] = match.group(2)
    sql = "\n".join(lines[body_start:]).strip().rstrip(";").strip()
    used = {field for _, field, _, _ in string.Formatter().parse(sql) if field is not None}
    if used != set(parameters):
        raise SqlFileError(f"{where}: parameters used {sorted(used)} differ from the header's {sorted(parameters)}")
    return SqlFile(path, path.stem, kind, parameters, sql)


@dataclass(frozen=True)
class SqlFolder:
    """A domain's `sql/` folder: its steps by name."""

    path: Path

    @classmethod
    def beside(cls, module_file: str) -> SqlFolder:
        """The `sql/` folder beside a module (pass `__file__`)."""
        return cls(Path(module_file).resolve().parent / "sql")

    def file(self, name: str) -> SqlFile:
        return read_sql_file(self.path / f"{name}.sql")

    def step(self, name: str) -> Step:
        f = self.file(name)
        if f.kind == "statement":
            raise SqlFileError(f"{f.path}: a statement, not a step (use `statement`)")
        return Step(name, f.sql, view=f.kind == "view")

    def statement(self, name: str, params: Mapping[str, str] | None = None) -> str:
        """A statement's SQL with its parameters inlined."""
        return self.file(name).render(params)

    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.sql"))


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


# The catalog of the tables kept as Parquet (core/lib/parquet_tables.py, which builds on this module).
PARQUET_CATALOG = "parquet_versions"


def write_table(
    con: duckdb.DuckDBPyConnection, table: str, source: str, where: str | None = None, order: str | None = None
) -> None:
    """A warehouse table written from a step's result, the stages' one way of doing it: whole (`where` None: the
    table replaced by `source`'s rows, in `order` if given), or the rows `where` selects replaced by `source`'s
    (an incremental build's scope). The caller holds the stage's transaction. One shape for every stage, so that
    a warehouse of Parquet tables can carry it out as a new table version instead (docs/scale-out.md)."""
    if where is None:
        sort = f" ORDER BY {order}" if order else ""
        timed(con, f"write {table}", f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {source}{sort}")
        return
    timed(con, f"delete {table}", f"DELETE FROM {table} WHERE {where}")
    timed(con, f"insert {table}", f"INSERT INTO {table} SELECT * FROM {source}")


@contextlib.contextmanager
def joins_as_written(con: duckdb.DuckDBPyConnection) -> Generator[None]:
    """Within the block, a hash join builds on the side the query puts on its right: DuckDB's optimizer does
    not swap the sides by its cardinality estimates (`build_side_probe_side`). For a statement whose estimates
    are known to be far off and whose written sides are right; the setting is the instance's, so it is reset
    after the block (a run's steps use the instance one at a time)."""
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    try:
        yield
    finally:
        con.execute("RESET disabled_optimizers")


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the connection's own (not temporary) tables, those kept as Parquet (views over a version,
    named in the catalog of core/lib/parquet_tables.py) included."""
    names = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database()"
        ).fetchall()
    }
    if PARQUET_CATALOG in names:
        names |= {r[0] for r in con.execute(f"SELECT table_name FROM {PARQUET_CATALOG}").fetchall()}
    return names


def has_columns(con: duckdb.DuckDBPyConnection, table: str, columns: Iterable[str]) -> bool:
    """Whether the warehouse table has every one of the columns (a state table an older version wrote, or one
    edited since, may not: its reader then starts over instead of failing on it)."""
    have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    return set(columns) <= have


def temp_kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """What the connection's temporary object of that name is (`BASE TABLE`, `LOCAL TEMPORARY` or `VIEW`), or None:
    DuckDB replaces a temporary view or table only with one of its own kind, and a step may come back from
    another engine as a table where DuckDB made a view, or the reverse."""
    return object_kind(con, name, temporary=True)


def object_kind(con: duckdb.DuckDBPyConnection, name: str, temporary: bool = False) -> str | None:
    """What the warehouse's (or, `temporary`, the connection's temporary) object of that name is, or None."""
    found = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = $n AND table_schema = 'main' "
        "AND table_catalog = " + ("'temp'" if temporary else "current_database()"),
        {"n": name},
    ).fetchall()
    return str(found[0][0]) if found else None


def temp_view(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """A temporary view `name` of `sql`, replacing a temporary table of that name if one is there."""
    if temp_kind(con, name) not in (None, "VIEW"):
        con.execute(f"DROP TABLE temp.{name}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")


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
