"""Where a stage's work runs: the engine interface the core's stages call, and DuckDB's implementation.

A stage hands its `Step` lists to an engine, which leaves the result of each step that anything outside the
list reads as a temporary table (or view) of that name on the warehouse connection, whatever engine computed
it; the stage then writes its tables through the engine (`write_table`, in the stage's transaction on the
warehouse: DuckDB's in the file, Spark's large ones as Parquet versions), and its build state on the warehouse.
DuckDB (here, the default) runs the steps on the warehouse connection itself; the Spark engine
(`consent_pipeline/engines/spark.py`) runs them on a Spark session through sqlglot and brings the results back
with DuckDB's own column types.

The other work an engine places is the connectors' (`map_tasks`): each parses one delivery, a pure function of
its files, so DuckDB's engine runs them on a few threads of this process and Spark's on its executors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

import duckdb

from consent_pipeline.core.lib.sql import Step, run_steps, write_table

T = TypeVar("T")
R = TypeVar("R")


class StepError(RuntimeError):
    """A step an engine other than the warehouse's own DuckDB could not run (DuckDB's raise duckdb.Error)."""


class Engine(Protocol):
    """Runs `Step` lists for a stage; see the module's docstring."""

    @property
    def name(self) -> str: ...

    @property
    def writes_in_place(self) -> bool:
        """True when a step's SQL may be written straight into a warehouse table (`CREATE TABLE t AS <sql>`),
        i.e. the steps run on the warehouse connection itself."""
        ...

    def run_steps(
        self,
        con: duckdb.DuckDBPyConnection,
        steps: Sequence[Step],
        params: Mapping[str, str] | None = None,
        writes: Mapping[str, str] | None = None,
    ) -> None:
        """Run the steps in order; afterwards each (at least each read outside the list: the Spark engine keeps
        the others to itself) is a temporary table or view of its name on `con`. `writes`: steps whose result
        the stage then writes whole as a warehouse table (step name -> table), so that an engine that keeps
        the table elsewhere can write the result there at once (Spark: as the table's next Parquet version)."""
        ...

    def write_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        source: str,
        where: str | None = None,
        order: str | None = None,
    ) -> None:
        """A warehouse table written from a step's result (`core/lib/sql.py` `write_table`: whole, or the rows
        `where` selects replaced), in the caller's transaction: DuckDB's in the file, Spark's large tables as a
        new Parquet version (`core/lib/parquet_tables.py`)."""
        ...

    def map_tasks(self, fn: Callable[[T], R], items: Sequence[T], threads: int = 1) -> list[R]:
        """`[fn(x) for x in items]`, in the items' order, the calls run where the engine runs work (`threads`: how
        many at once when that is this process). `fn` and the items must pickle (Spark sends them to its
        executors); an exception `fn` raises is raised here."""
        ...


class DuckDBEngine:
    """The default: every step a temporary table (or view) on the warehouse connection."""

    name = "duckdb"
    writes_in_place = True

    def run_steps(
        self,
        con: duckdb.DuckDBPyConnection,
        steps: Sequence[Step],
        params: Mapping[str, str] | None = None,
        writes: Mapping[str, str] | None = None,
    ) -> None:
        run_steps(con, steps, params)  # the write reads the step in place: nothing to prepare

    def write_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        source: str,
        where: str | None = None,
        order: str | None = None,
    ) -> None:
        write_table(con, table, source, where, order)

    def map_tasks(self, fn: Callable[[T], R], items: Sequence[T], threads: int = 1) -> list[R]:
        # A connector spends most of its time in polars, which releases the GIL, but also some in Python between
        # calls, which one thread alone leaves a core idle for.
        workers = min(threads, len(items))
        if workers <= 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(workers, thread_name_prefix="task") as pool:
            return list(pool.map(fn, items))


DUCKDB: Engine = DuckDBEngine()
