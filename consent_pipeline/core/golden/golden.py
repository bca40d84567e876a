"""The golden stage: identity + merge, written in one transaction, so a run killed at any point leaves the
last good state.

Identity: an incremental build decides ownership again only for the contact points whose inputs changed
(`g_points_touched`), when the last build's owner and association tables are as it left them (else, and when
an erasure changed, for every contact point), and writes only the owner rows and associations that differ
from the last build's. The merge is incremental: only the
contact points whose keys can have changed since the last build are recomputed, and their rows in the three
consent tables replaced (see `core/golden/golden_scope.py` for which ones). A first run, changed rules or a changed
merge logic rebuild every key; so does `full=True`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.golden.golden_scope import erasures_changed, finish_scope, golden_scope, record_golden_inputs
from consent_pipeline.core.golden.merge import INPUT_STEPS, KEY, TABLE_STEPS, create_macros, scope_params
from consent_pipeline.core.identity import build_identity
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.reference import load_reference, persist_rules_tables
from consent_pipeline.core.lib.replaced import (
    Scoped,
    forget_replaced,
    passed,
    record_fingerprints,
    record_replaced,
    sums,
)
from consent_pipeline.core.lib.sql import timed
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.lib import faults
from consent_pipeline.warehouse.schema import ensure_ingest_tables

log = logging.getLogger(__name__)

# Identity tables: warehouse table -> the temporary table identity builds (every run builds them whole).
IDENTITY_TABLES: dict[str, str] = {
    "parties": "id_parties",
    "contact_point_owner": "id_owner",
    "party_contact_points": "id_party_points",
    "waiting_events": "id_waiting",
}
# On an incremental build, the two large identity tables get only the rows that differ from the last build's
# (which the golden scope found, comparing every column: g_owner_changes, g_points_added, g_points_gone)
# instead of a rewrite: the same rows, 3 s less a night at scale 10.
CHANGED_ROWS: dict[str, list[tuple[str, str]]] = {
    "contact_point_owner": [
        (
            "delete",
            "DELETE FROM contact_point_owner WHERE contact_point IN (SELECT contact_point FROM g_owner_changes)",
        ),
        (
            "insert",
            "INSERT INTO contact_point_owner BY NAME SELECT * FROM id_owner"
            " WHERE contact_point IN (SELECT contact_point FROM g_owner_changes)",
        ),
    ],
    "party_contact_points": [
        (
            "delete",
            "DELETE FROM party_contact_points p USING g_points_gone g WHERE p.party_id IS NOT DISTINCT FROM g.party_id"
            " AND p.contact_point IS NOT DISTINCT FROM g.contact_point"
            " AND p.contact_point_type IS NOT DISTINCT FROM g.contact_point_type",
        ),
        ("insert", "INSERT INTO party_contact_points BY NAME SELECT * FROM g_points_added"),
    ],
}
# An incremental build decides identity again only for the touched contact points and keeps the last build's
# owners and associations of the others: only when those two tables are as that build left them (their count
# and hash sum, recorded under this name in check_fingerprints); else identity is decided for every contact
# point again, and the differences written (an edit between runs is mended).
IDENTITY_RECORD = "golden_identity"
IDENTITY_HASHED = {
    "contact_point_owner": "contact_point, contact_point_type, party_id, household_id, rule",
    "party_contact_points": "party_id, contact_point, contact_point_type",
}
# Consent tables, keyed by contact point: rebuilt whole, or only for the contact points in scope.
CONSENT_TABLES: dict[str, str] = {
    "consent_effects": "m_effects",
    "consent_history": "m_history",
    "consent_current": "m_current",
}
# What the scoped invariants read of each consent table they check, hashed (one list a table: its build records
# one sum of the rows it replaces). Both tables' rows are replaced by contact point.
HASHED = {"consent_current": f"{KEY}, event_id", "consent_history": f"{KEY}, event_id, valid_to"}
GOLDEN_TABLES: list[str] = [
    "parties",
    "contact_point_owner",
    "party_contact_points",
    "consent_effects",
    "consent_history",
    "consent_current",
    "waiting_events",
]


@dataclass
class GoldenResult:
    counts: dict[str, int]
    mode: str  # "full" or "incremental"
    reason: str  # why full, or how many contact points were recomputed
    scope: int  # contact points recomputed (incremental)
    # How identity was decided: for every contact point (-1, and why), or for the touched ones (how many).
    identity_scope: int = -1
    identity: str = "every contact point"


def build_golden(
    con: duckdb.DuckDBPyConnection, rules: Rules, full: bool = False, engine: Engine = DUCKDB
) -> GoldenResult:
    ensure_ingest_tables(con)
    load_reference(con, rules)
    started = time.perf_counter()
    scope = None if full else golden_scope(con, engine)
    touched, identity_scope, identity = _identity_scope(con, scope is not None and scope.incremental)
    log.debug("identity: %s", identity)
    build_identity(con, engine, touched)
    if scope is not None and scope.incremental:
        scope = finish_scope(con, engine, touched)
    log.debug("golden scope and identity: %.2fs", time.perf_counter() - started)
    scoped = scope is not None and scope.incremental
    engine.run_steps(con, INPUT_STEPS, scope_params(scoped))
    with transaction(con, "golden commit"):
        for table, temp in IDENTITY_TABLES.items():
            if scoped and table in CHANGED_ROWS:
                for label, sql in CHANGED_ROWS[table]:
                    timed(con, f"{label} {table}", sql)
            else:
                engine.write_table(con, table, temp)
            faults.pause(f"golden:{table}")
        if scoped:
            _replace_scope(con, engine)
        else:
            for table in HASHED:  # their next checks look at every row
                forget_replaced(con, table)
            if engine.writes_in_place:
                _rebuild(con)
            else:
                _rebuild_from(con, engine)
        create_macros(con)
        persist_rules_tables(con, rules)
        record_golden_inputs(con, scoped)
        recorded = time.perf_counter()
        record_fingerprints(con, IDENTITY_RECORD, {t: sums(con, t, cols) for t, cols in IDENTITY_HASHED.items()})
        log.debug("record identity tables: %.2fs", time.perf_counter() - recorded)
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in GOLDEN_TABLES}
    if scope is None:
        return GoldenResult(counts, "full", "asked for a full rebuild", 0, identity_scope, identity)
    mode = "incremental" if scoped else "full"
    return GoldenResult(counts, mode, scope.reason, scope.size, identity_scope, identity)


def _identity_scope(con: duckdb.DuckDBPyConnection, incremental: bool) -> tuple[str | None, int, str]:
    """Which contact points identity decides again: the table of the touched ones (None: every one), how many
    (-1: every one), and why, in words."""
    if not incremental:
        return None, -1, "every contact point: a whole build"
    checked = time.perf_counter()
    why = "an erasure changed" if erasures_changed(con) else _identity_changed(con)
    log.debug("identity tables as the last build left them: %.2fs", time.perf_counter() - checked)
    if why:
        return None, -1, f"every contact point: {why}"
    n = int(con.execute("SELECT count(*) FROM g_points_touched").fetchall()[0][0])
    return "g_points_touched", n, f"{n:,} contact points whose ownership can have changed"


def _identity_changed(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the last build's owners and associations cannot be kept (None: they are as it left them)."""
    for table, cols in IDENTITY_HASHED.items():
        recorded = passed(con, IDENTITY_RECORD, table)
        if recorded is None:
            return f"no record of {table} as the last build left it"
        if sums(con, table, cols) != recorded:
            return f"{table} changed since the last build"
    return None


def _rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Every key: each consent table written straight from the one before (no temporary copy; row order is
    not part of the contract, so no sort)."""
    params = scope_params(False, effects="consent_effects", history="consent_history")
    for step in TABLE_STEPS:
        sql = step.sql.format(**params)
        table = next((t for t, temp in CONSENT_TABLES.items() if temp == step.name), None)
        if table is None:  # an intermediate step: temporary
            timed(
                con,
                f"step {step.name}",
                f"CREATE OR REPLACE TEMP {'VIEW' if step.view else 'TABLE'} {step.name} AS {sql}",
            )
            continue
        timed(con, f"write {table}", f"CREATE OR REPLACE TABLE {table} AS {sql}")
        faults.pause(f"golden:{table}")


def _rebuild_from(con: duckdb.DuckDBPyConnection, engine: Engine) -> None:
    """Every key, computed by another engine into temporary tables, each consent table written from its own."""
    engine.run_steps(con, TABLE_STEPS, scope_params(False), writes={t: table for table, t in CONSENT_TABLES.items()})
    for table, temp in CONSENT_TABLES.items():
        engine.write_table(con, table, temp)
        faults.pause(f"golden:{table}")


def _replace_scope(con: duckdb.DuckDBPyConnection, engine: Engine) -> None:
    """Only the contact points in g_scope: computed in temporary tables, then their rows replaced."""
    engine.run_steps(con, TABLE_STEPS, scope_params(True))
    for table, temp in CONSENT_TABLES.items():
        if table in HASHED:  # checked on the replaced contact points (core/lib/replaced.py)
            where = record_replaced(con, table, "contact_point", "SELECT contact_point FROM g_scope", HASHED[table])
        else:
            where = "contact_point IN (SELECT contact_point FROM g_scope)"
        engine.write_table(con, table, temp, where)
        faults.pause(f"golden:{table}")


# by one hash first, then the suspects by their four columns (exact whatever the hash)
TWO_STATES = f"""
    WITH suspects AS (SELECT hash({KEY}) AS h FROM {{consent_current}} GROUP BY 1 HAVING count(*) > 1)
    SELECT {KEY}, count(*) AS states FROM {{consent_current}}
    WHERE hash({KEY}) IN (SELECT h FROM suspects)
    GROUP BY {KEY} HAVING count(*) > 1
    """
NOT_LATEST = f"""
    SELECT c.contact_point, c.channel, c.purpose, c.brand, c.event_id
    FROM {{consent_current}} c
    LEFT JOIN {{consent_history}} h USING ({KEY}, event_id)
    WHERE h.event_id IS NULL OR h.valid_to IS NOT NULL
    """
WHOLE = {t: t for t in HASHED}

# Both are about one key's rows, so one contact point's: on an incremental night they look at the contact points
# the build replaced when the other rows are proven unchanged (core/lib/replaced.py).
INVARIANTS = [
    Invariant(
        "one_current_state_per_key",
        "consent_current",
        "each key (contact point, channel, leaf purpose, brand) has exactly one current state",
        TWO_STATES.format(**WHOLE),
        blocking=True,
        scoped=Scoped("contact_point", {"consent_current": HASHED["consent_current"]}, TWO_STATES),
    ),
    Invariant(
        "current_is_latest_history",
        "consent_history",
        "the current state of each key is the open version of its history",
        NOT_LATEST.format(**WHOLE),
        scoped=Scoped("contact_point", HASHED, NOT_LATEST),
    ),
    Invariant(
        "leaf_scopes_only",
        "consent_current",
        "golden keys hold leaf values only (no `*`, no parent purpose)",
        """
        SELECT contact_point, channel, purpose, brand FROM consent_current
        WHERE channel = '*' OR brand = '*' OR purpose = '*' OR purpose NOT LIKE '%.%'
        """,
    ),
    Invariant(
        "one_owner_per_contact_point",
        "contact_point_owner",
        "every contact point has exactly one owner",
        "SELECT contact_point, count(*) AS owners FROM contact_point_owner GROUP BY contact_point HAVING count(*) > 1",
        blocking=True,
    ),
]
