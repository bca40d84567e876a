"""Who must not be contacted (outputs.md suppression lists): one row per contact point x channel x brand x
leaf purpose, with the strongest reason: erased, undeliverable, opted_out, dnc_registry.

Every marketing purpose and every brand in rules; service purposes only where opted out (never
service.billing). Contact points count whether or not a known customer owns them; erased ones appear only
as their SHA-256.

A contact point's rows depend only on its own erasure, undeliverable status, consent states and permission
rows, so recomputing some contact points from scratch gives what a full build would for them. A night
recomputes only the ones the permissions stage noted as possibly changed since the list was last built
(`permission_changes`: every point golden changed, whose listing or deliverability changed, or of a party
whose permissions were recomputed). A first build, other rules or logic, a whole permissions build since,
or permissions that do not reflect the last golden build (their step failed) rebuild the whole list.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.build_state import BuildState, last_build, logic_version, rules_fingerprint
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.reference import required_purposes
from consent_pipeline.core.lib.scope import Scope
from consent_pipeline.core.lib.sql import SqlFolder, temp_view, warehouse_tables
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.core.permissions import CHANGES, changes_unreadable, record_read
from consent_pipeline.lib import faults

log = logging.getLogger(__name__)

STAGE = "suppression"
SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
CANDIDATES = SQL.step("x_candidates")
SUPPRESSION = SQL.step("x_suppression")
# Its SQL files and this module: a change to either rebuilds the whole list on the next run.
LOGIC_VERSION = logic_version(STAGE, [SQL.file("x_candidates").path, SQL.file("x_suppression").path, Path(__file__)])
IN_SCOPE = "contact_point IN (SELECT contact_point FROM x_scope)"


def params(rules: Rules, scoped: bool) -> dict[str, str]:
    """The steps' parameters: every contact point, or (scoped) those in x_scope."""
    return {"required_purposes": required_purposes(rules), "scope": IN_SCOPE if scoped else "true"}


def suppression_scope(con: duckdb.DuckDBPyConnection) -> Scope:
    """Create temp table x_scope (contact_point) and say whether to use it, or why the list is rebuilt whole."""
    if not {"suppression", CHANGES} <= warehouse_tables(con):
        return Scope.whole("no previous suppression list")
    prev = last_build(con, STAGE)
    if prev is None or prev.upstream_seq is None:
        return Scope.whole("no previous suppression list")
    if (prev.logic_version, prev.rules_fingerprint) != (LOGIC_VERSION, rules_fingerprint(con)):
        return Scope.whole("the rules or the suppression logic changed since the last build")
    why = changes_unreadable(con, prev.upstream_seq)
    if why:
        return Scope.whole(why)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE x_scope AS SELECT DISTINCT contact_point FROM {CHANGES} WHERE seq > $s",
        {"s": prev.upstream_seq},
    )
    n = con.execute("SELECT count(*) FROM x_scope").fetchall()[0][0]
    return Scope(True, f"{n:,} contact points whose rows can have changed", n)


def build_suppression(con: duckdb.DuckDBPyConnection, rules: Rules, engine: Engine = DUCKDB) -> Scope:
    """Warehouse table `suppression` (whole, or the contact points in scope replaced), and x_suppression a
    view of it for this run's later steps (reference tables and the golden/permission tables must exist, with
    what permissions kept of this run's registry listings and undeliverable points: perm_listed,
    perm_undeliverable). The steps run on the engine; on DuckDB a whole build is written straight from their
    SQL (no temporary copy)."""
    scope = suppression_scope(con)
    log.debug("suppression scope: %s", scope.reason)
    whole = None if scope.incremental else {"x_suppression": "suppression"}
    engine.run_steps(con, [CANDIDATES, SUPPRESSION], params(rules, scope.incremental), writes=whole)
    with transaction(con, "suppression commit"):
        engine.write_table(con, "suppression", "x_suppression", f"key_{IN_SCOPE}" if scope.incremental else None)
        faults.pause("suppression:written")
        recomputed = scope.size if scope.incremental else None
        record_read(con, BuildState(STAGE, LOGIC_VERSION, rules_fingerprint(con), recomputed=recomputed))
    use_written_suppression(con)
    return scope


def use_written_suppression(con: duckdb.DuckDBPyConnection) -> None:
    """x_suppression as the warehouse's `suppression` table, for steps after the one that wrote it."""
    temp_view(con, "x_suppression", "SELECT * FROM suppression")


INVARIANTS = [
    Invariant(
        "opted_out_suppressed",
        "suppression",
        "every key in state opt_out (except service.billing) is in the suppression list",
        """
        SELECT c.contact_point, c.channel, c.brand, c.purpose FROM consent_current c
        JOIN rules_purposes p ON p.purpose = c.purpose
        WHERE c.status = 'opt_out' AND p.opt_out_allowed
          AND NOT EXISTS (SELECT 1 FROM suppression s WHERE s.key_contact_point = c.contact_point
                          AND s.channel = c.channel AND s.brand = c.brand AND s.purpose = c.purpose)
        """,
        blocking=True,
    ),
]
