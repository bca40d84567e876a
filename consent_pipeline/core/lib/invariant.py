"""Invariants as data tests: each is a SQL query returning the rows that violate it (empty = holds).

Each stage lists its own (`INVARIANTS` in the module that owns the table; the ingest ones here as `INGEST`);
`core/audit/invariant_registry.py` gathers those lists explicitly. They run as Dagster asset checks after every
run (defs/checks.py), and the test suite's run helper fails on any that does not hold. A blocking one (the
promises that protect people) stops everything downstream of the table it guards: tonight's extract folder
is then not published.
"""

from __future__ import annotations

from dataclasses import dataclass

from consent_pipeline.core.lib.replaced import Scoped


@dataclass(frozen=True)
class Invariant:
    name: str
    table: str  # the warehouse table (asset) it guards
    description: str
    sql: str
    # ERROR: a broken promise (the run's checks fail); WARN: something held back that an operator should see.
    severity: str = "ERROR"
    # A broken promise that protects people: nothing downstream of the table runs, no extract is published.
    blocking: bool = False
    # Checked on the rows tonight's build replaced when the others are proven unchanged (core/lib/replaced.py).
    scoped: Scoped | None = None
