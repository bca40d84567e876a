"""Where a stage's SQL steps run: the engine interface the core's stages call, and DuckDB's implementation.

A stage hands its `Step` lists to an engine, which leaves the result of each step that anything outside the
list reads as a temporary table (or view) of that name on the warehouse connection, whatever engine computed
it; what the stage then writes (its
transaction, deletes and inserts by scope, build state) stays on the warehouse. DuckDB (here, the default)
runs the steps on the warehouse connection itself; the Spark engine (`consent_pipeline/engines/spark.py`)
runs them on a Spark session through sqlglot and brings the results back with DuckDB's own column types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import duckdb

from consent_pipeline.core.lib.sql import Step, run_steps


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
        self, con: duckdb.DuckDBPyConnection, steps: Sequence[Step], params: Mapping[str, str] | None = None
    ) -> None:
        """Run the steps in order; afterwards each (at least each read outside the list: the Spark engine keeps
        the others to itself) is a temporary table or view of its name on `con`."""
        ...


class DuckDBEngine:
    """The default: every step a temporary table (or view) on the warehouse connection."""

    name = "duckdb"
    writes_in_place = True

    def run_steps(
        self, con: duckdb.DuckDBPyConnection, steps: Sequence[Step], params: Mapping[str, str] | None = None
    ) -> None:
        run_steps(con, steps, params)


DUCKDB: Engine = DuckDBEngine()
