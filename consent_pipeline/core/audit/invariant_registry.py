"""Every invariant, by an explicit list per domain (the stage that owns the tables lists its own): nothing
registers itself when a module is imported, so what runs does not depend on import order."""

from __future__ import annotations

import duckdb
import polars as pl

from consent_pipeline.core import golden, ingest, marketing, permissions, privacy
from consent_pipeline.core.audit import audit
from consent_pipeline.core.lib.invariant import Invariant

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
    sql = invariant.sql
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(limit)}"
    return con.sql(sql).pl()
