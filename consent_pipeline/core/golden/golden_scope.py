"""Which contact points the merge must recompute since the last golden build (g_scope), or why it must
rebuild every key.

Golden keys are partitioned by contact point, so recomputing a contact point from all of its events gives
exactly what a full rebuild would. A contact point's events or targets can change only if
- a file ingested since the last build brought an event naming it (or naming its party, for party-level
  events), or moved an event's lineage to an earlier delivery;
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
from consent_pipeline.core.lib.scope import Scope
from consent_pipeline.core.lib.sql import symmetric_difference, warehouse_tables

STAGE = "golden"
STATE_TABLES = ("golden_inputs", "golden_erasures", "golden_customers")
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


def golden_scope(con: duckdb.DuckDBPyConnection) -> Scope:
    """Create temp tables g_scope (contact_point) and g_scope_parties (party_id); say whether to use them."""
    present = warehouse_tables(con)
    missing = [t for t in PREVIOUS if t not in present]
    build = last_build(con, STAGE)
    if missing or build is None:
        return Scope.whole("no previous golden build")
    if (build.logic_version, build.rules_fingerprint) != (LOGIC_VERSION, rules_fingerprint(con)):
        return Scope.whole("the rules or the merge logic changed since the last build")

    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_new_files AS
        SELECT source_file FROM ingest_ledger EXCEPT SELECT source_file FROM golden_inputs
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_new_events AS
        SELECT contact_point, party_id FROM consent_events WHERE source_file IN (SELECT source_file FROM g_new_files)
        """
    )
    # A new link of a source system's party id (a Salesforce Individual) re-resolves the party of every event
    # naming it, old ones included: their contact points, and every party that id was ever linked to.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_relinked AS
        SELECT DISTINCT source_party_id FROM party_links WHERE source_file IN (SELECT source_file FROM g_new_files)
        """
    )
    # A new link of a source's contact-point record resolves (or moves) the events naming it, old ones included.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_repointed AS
        SELECT DISTINCT source, source_point_id FROM contact_point_links
        WHERE source_file IN (SELECT source_file FROM g_new_files)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_erasure_changes AS
        SELECT contact_point_sha256 AS hex FROM
        {symmetric_difference("erasure_register", "golden_erasures", "contact_point_sha256, reestablished_at")}
        """
    )
    erased_clear = ""
    if con.execute("SELECT count(*) FROM g_erasure_changes").fetchall()[0][0]:
        # the clear form a changed erasure hides (or shows again): known to the old or the new owner table
        erased_clear = """
            UNION ALL SELECT 'sha256:' || hex FROM g_erasure_changes
            UNION ALL SELECT contact_point FROM contact_point_owner
                WHERE contact_point NOT LIKE 'sha256:%' AND sha256(contact_point) IN (SELECT hex FROM g_erasure_changes)
            UNION ALL SELECT contact_point FROM id_owner
                WHERE contact_point NOT LIKE 'sha256:%' AND sha256(contact_point) IN (SELECT hex FROM g_erasure_changes)
        """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_scope AS
        WITH new_customers AS (
            SELECT party_id FROM id_customers
            EXCEPT SELECT party_id FROM golden_customers
        ), touched_parties AS (
            SELECT party_id FROM g_new_events WHERE contact_point IS NULL AND party_id IS NOT NULL
            UNION SELECT party_id FROM new_customers
            UNION SELECT party_id FROM party_links WHERE source_party_id IN (SELECT source_party_id FROM g_relinked)
        )
        SELECT DISTINCT contact_point FROM (
            SELECT contact_point FROM g_new_events WHERE contact_point IS NOT NULL
            UNION ALL SELECT contact_point FROM consent_events
                WHERE contact_point IS NOT NULL AND party_id IN (SELECT party_id FROM new_customers)
            UNION ALL SELECT contact_point FROM consent_events
                WHERE contact_point IS NOT NULL AND party_ref IN (SELECT source_party_id FROM g_relinked)
            UNION ALL SELECT l.contact_point FROM contact_point_links l
                JOIN g_repointed r ON r.source = l.source AND r.source_point_id = l.source_point_id
            UNION ALL SELECT contact_point FROM id_party_points WHERE party_id IN (SELECT party_id FROM touched_parties)
            UNION ALL SELECT contact_point FROM id_owner WHERE party_id IN (SELECT party_id FROM touched_parties)
            UNION ALL SELECT contact_point FROM party_contact_points
                WHERE party_id IN (SELECT party_id FROM touched_parties)
            -- owner changed (or the contact point appeared / disappeared)
            UNION ALL SELECT coalesce(n.contact_point, o.contact_point)
                FROM id_owner n FULL JOIN contact_point_owner o ON o.contact_point = n.contact_point
                WHERE n.party_id IS DISTINCT FROM o.party_id
            -- associations added or gone
            UNION ALL SELECT contact_point FROM
                {symmetric_difference("id_party_points", "party_contact_points", "party_id, contact_point")}
            {erased_clear}
        ) WHERE contact_point IS NOT NULL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_scope_parties AS
        SELECT DISTINCT party_id FROM (
            SELECT party_id FROM id_party_points WHERE contact_point IN (SELECT contact_point FROM g_scope)
            UNION ALL SELECT party_id FROM id_owner WHERE contact_point IN (SELECT contact_point FROM g_scope)
        )
        """
    )
    n = con.execute("SELECT count(*) FROM g_scope").fetchall()[0][0]
    return Scope(True, f"{n:,} contact points touched since the last build", n)


def record_golden_inputs(con: duckdb.DuckDBPyConnection, scoped: bool) -> None:
    """What this build reflects (the ingested files, the erasure register, customers, the rules and merge
    logic), its sequence number, and the contact points it changed (golden_changes, read by permissions)."""
    prev = last_build(con, STAGE)
    seq = (prev.seq + 1) if prev and prev.seq is not None else 1
    full_seq = prev.full_seq if (prev and scoped and prev.full_seq is not None) else seq
    con.execute("CREATE OR REPLACE TABLE golden_inputs AS SELECT DISTINCT source_file FROM ingest_ledger")
    con.execute("CREATE OR REPLACE TABLE golden_customers AS SELECT party_id FROM id_customers")
    con.execute(
        "CREATE OR REPLACE TABLE golden_erasures AS SELECT contact_point_sha256, reestablished_at FROM erasure_register"
    )
    recomputed = con.execute("SELECT count(*) FROM g_scope").fetchall()[0][0] if scoped else None
    record_build(
        con,
        BuildState(STAGE, LOGIC_VERSION, rules_fingerprint(con), seq=seq, full_seq=full_seq, recomputed=recomputed),
    )
    if not scoped or "golden_changes" not in warehouse_tables(con):
        con.execute("CREATE OR REPLACE TABLE golden_changes (contact_point VARCHAR, seq BIGINT)")
    if scoped:
        con.execute("INSERT INTO golden_changes SELECT contact_point, $s FROM g_scope", {"s": seq})
