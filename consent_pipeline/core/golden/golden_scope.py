"""Which contact points the merge must recompute since the last golden build (g_scope), or why it must
rebuild every key.

Golden keys are partitioned by contact point, so recomputing a contact point from all of its events gives
exactly what a full rebuild would. A contact point's events or targets can change only if
- a file ingested (or read again) since the last build brought an event naming it (or naming its party, for
  party-level events), or moved an event's lineage to an earlier delivery;
- its owner changed, or the set of parties associated with it changed;
- a party named by its events became a known customer (waiting events take effect), or a source system's
  party id its events name was linked (again) to a customer;
- a source's contact-point record its events name (a Salesforce ContactPointEmail) was delivered (again):
  the address it names now, and every address it named before;
- its erasure changed (erased, re-established): its clear and hashed forms both move.
Anything else (other rules, other merge logic, no previous build) rebuilds every key.

Identity tables (id_*) of this run and the warehouse's tables of the last build must both be present.
"""

from __future__ import annotations

import duckdb

from consent_pipeline.core.golden.merge import LOGIC_VERSION
from consent_pipeline.core.lib.build_state import BuildState, last_build, record_build, rules_fingerprint
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.scope import Scope
from consent_pipeline.core.lib.sql import SqlFolder, has_columns, warehouse_tables

STAGE = "golden"
SQL = SqlFolder.beside(__file__)
# New files, events and links, changed erasures and the contact points whose ownership can have changed (run
# before identity, which decides only those again); after identity, the owner rows and associations that differ
# from the last build's; then (told whether erasures changed) the contact points in scope and their parties.
BEFORE_IDENTITY = [
    SQL.step(name)
    for name in ("g_new_files", "g_new_events", "g_relinked", "g_repointed", "g_erasure_changes", "g_points_touched")
]
COMPARED = SQL.step("g_compared")
AFTER_IDENTITY = [SQL.step(name) for name in ("g_owner_changes", "g_points_added", "g_points_gone")]
CHANGE_STEPS = BEFORE_IDENTITY + AFTER_IDENTITY
IN_SCOPE_STEPS = [SQL.step("g_scope"), SQL.step("g_scope_parties"), SQL.step("g_permission_parties")]
SCOPE_STEPS = CHANGE_STEPS + IN_SCOPE_STEPS
STATE_TABLES = ("golden_inputs", "golden_erasures", "golden_customers")
# A file's ledger row is known by its run (g_new_files): a file read again is new again.
INPUT_COLUMNS = ("source_file", "run_id")
# What each build changed, for the permissions stage (which removes what it has read): table, column, source.
CHANGES = (("golden_changes", "contact_point", "g_scope"), ("golden_party_changes", "party_id", "g_permission_parties"))
PREVIOUS = (
    "contact_point_owner",
    "party_contact_points",
    "parties",
    "consent_effects",
    "consent_history",
    "consent_current",
    "erasure_register",
    *STATE_TABLES,
)


def golden_scope(con: duckdb.DuckDBPyConnection, engine: Engine = DUCKDB) -> Scope:
    """Whether the build can be incremental (else why not); if so, the changes found before identity runs
    (temp tables g_new_files ... g_points_touched). `finish_scope` then finds the contact points in scope."""
    present = warehouse_tables(con)
    missing = [t for t in PREVIOUS if t not in present]
    build = last_build(con, STAGE)
    if missing or build is None:
        return Scope.whole("no previous golden build")
    if (build.logic_version, build.rules_fingerprint) != (LOGIC_VERSION, rules_fingerprint(con)):
        return Scope.whole("the rules or the merge logic changed since the last build")
    if not has_columns(con, "golden_inputs", INPUT_COLUMNS):  # written by an older version, or edited
        return Scope.whole("the last build's record of its input files is not in the current shape")

    engine.run_steps(con, BEFORE_IDENTITY)
    return Scope(True, "changes found", 0)


def erasures_changed(con: duckdb.DuckDBPyConnection) -> bool:
    """An erasure was made, re-established or forgotten since the last build (`golden_scope` ran)."""
    return con.execute("SELECT count(*) FROM g_erasure_changes").fetchall()[0][0] > 0


def finish_scope(con: duckdb.DuckDBPyConnection, engine: Engine = DUCKDB, touched: str | None = None) -> Scope:
    """After identity (its id_* tables), create temp tables g_scope (contact_point), g_scope_parties and
    g_permission_parties (party_id). `touched`: the table of the contact points identity decided again (None:
    every one); the owner and association rows of the others are the last build's, not compared again."""
    if touched is not None:
        engine.run_steps(con, [COMPARED], {"touched": touched})
    compared = "true" if touched is None else "contact_point IN (SELECT contact_point FROM g_compared)"
    engine.run_steps(con, AFTER_IDENTITY, {"compared": compared})
    changed = erasures_changed(con)
    engine.run_steps(con, IN_SCOPE_STEPS, {"erasure_changed": "true" if changed else "false"})
    n = con.execute("SELECT count(*) FROM g_scope").fetchall()[0][0]
    return Scope(True, f"{n:,} contact points touched since the last build", n)


def record_golden_inputs(con: duckdb.DuckDBPyConnection, scoped: bool) -> None:
    """What this build reflects (the ingested files, the erasure register, customers, the rules and merge
    logic), its sequence number, and what it changed for the permissions stage: the contact points
    (golden_changes) and the parties whose activity or events changed (golden_party_changes)."""
    prev = last_build(con, STAGE)
    seq = (prev.seq + 1) if prev and prev.seq is not None else 1
    full_seq = prev.full_seq if (prev and scoped and prev.full_seq is not None) else seq
    con.execute("CREATE OR REPLACE TABLE golden_inputs AS SELECT DISTINCT source_file, run_id FROM ingest_ledger")
    con.execute("CREATE OR REPLACE TABLE golden_customers AS SELECT party_id FROM id_customers")
    con.execute(
        "CREATE OR REPLACE TABLE golden_erasures AS SELECT contact_point_sha256, reestablished_at FROM erasure_register"
    )
    recomputed = con.execute("SELECT count(*) FROM g_scope").fetchall()[0][0] if scoped else None
    record_build(
        con,
        BuildState(STAGE, LOGIC_VERSION, rules_fingerprint(con), seq=seq, full_seq=full_seq, recomputed=recomputed),
    )
    present = warehouse_tables(con)
    for table, column, source in CHANGES:
        if not scoped or table not in present:
            con.execute(f"CREATE OR REPLACE TABLE {table} ({column} VARCHAR, seq BIGINT)")
        if scoped:
            con.execute(f"INSERT INTO {table} SELECT {column}, $s FROM {source}", {"s": seq})
