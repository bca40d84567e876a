"""Every invariant, by an explicit list per domain (the stage that owns the tables lists its own): nothing
registers itself when a module is imported, so what runs does not depend on import order."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from consent_pipeline.core import golden, ingest, marketing, permissions, privacy
from consent_pipeline.core.audit import audit
from consent_pipeline.core.lib import replaced
from consent_pipeline.core.lib.invariant import Invariant

log = logging.getLogger(__name__)

# domain (the Dagster group of the tables) -> its invariants
BY_DOMAIN: dict[str, list[Invariant]] = {
    "event_log": ingest.INVARIANTS,
    "privacy": privacy.INVARIANTS,
    "golden": golden.INVARIANTS,
    "permissions": permissions.INVARIANTS,
    "marketing": marketing.INVARIANTS,
    "audit": audit.INVARIANTS,
}


def _by_name() -> dict[str, Invariant]:
    found: dict[str, Invariant] = {}
    for domain, listed in BY_DOMAIN.items():
        for inv in listed:
            if inv.name in found:
                raise ValueError(f"invariant {inv.name} is listed twice ({domain})")
            found[inv.name] = inv
    return found


INVARIANTS: dict[str, Invariant] = _by_name()
# The promises that protect people: a failure stops everything downstream of the table (no extract published).
BLOCKING = sorted(name for name, inv in INVARIANTS.items() if inv.blocking)


def violations(con: duckdb.DuckDBPyConnection, invariant: Invariant | str, limit: int | None = None) -> pl.DataFrame:
    """The rows that violate an invariant (given itself or by name), at most `limit`."""
    if isinstance(invariant, str):
        invariant = INVARIANTS[invariant]
    return _rows(con, invariant.sql, limit)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None) -> pl.DataFrame:
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(limit)}"
    return con.sql(sql).pl()


@dataclass(frozen=True)
class Checked:
    violations: pl.DataFrame
    rows_looked_at: str  # which rows the check looked at, and why


def check(con: duckdb.DuckDBPyConnection, invariant: Invariant, limit: int | None = None) -> Checked:
    """The invariant's violations, and a record of the check for the next one (core/lib/replaced.py): on the
    rows the last builds replaced when every other row is proven unchanged since the last passing check, else
    on every row. The connection must be able to write (the record)."""
    scoped = invariant.scoped
    if scoped is None:
        return Checked(violations(con, invariant, limit), "every row")
    tables = list(scoped.hashed)
    whole = {t: replaced.sums(con, t, cols) for t, cols in scoped.hashed.items()}
    # each table as it passed, less the rows the replaced keys selected then: what the other rows must be
    expected: dict[str, replaced.Sums] = {}
    looked_at = ""
    for t in tables:
        before, gone = replaced.passed(con, invariant.name, t), replaced.removed(con, t)
        if before is None:
            looked_at = "every row: no passing check recorded"
        elif gone is None:
            looked_at = looked_at or "every row: no incremental build recorded"
        else:
            expected[t] = before - gone
    bad: pl.DataFrame | None = None
    if not looked_at:
        temps = {t: f"_replaced_{t}" for t in tables}
        try:
            untouched: dict[str, replaced.Sums] = {}
            for t, cols in scoped.hashed.items():
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {temps[t]} AS "
                    f"SELECT {cols} FROM {t} WHERE {replaced.selected(scoped.column, tables)}"
                )
                untouched[t] = whole[t] - replaced.sums(con, temps[t], cols)
            if untouched == expected:
                bad = _rows(con, scoped.sql.format(**temps), limit)
                kept = sum(u.rows for u in untouched.values())
                looked_at = (
                    f"{sum(w.rows for w in whole.values()) - kept:,} rows of the keys the last build replaced; "
                    f"the other {kept:,} unchanged since the last passing check"
                )
            else:
                looked_at = "every row: rows outside the last build's keys changed since the last passing check"
        finally:
            for temp in temps.values():
                con.execute(f"DROP TABLE IF EXISTS {temp}")
    if bad is None:
        bad = violations(con, invariant, limit)
    replaced.record_check(con, invariant.name, whole if bad.height == 0 else None)
    log.debug("check %s: %s", invariant.name, looked_at)
    return Checked(bad, looked_at)
