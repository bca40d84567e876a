"""Which parties' permissions must be recomputed since the last run (perm_scope), or why every key must be.

Permissions are keyed by party (a party's rows depend on its contact points, region, brands, activity and
their consent states), so recomputing a party from scratch gives what a full run would. A party's
permissions can change only if
- the golden build changed one of its contact points (or took one away from it);
- its country, region or brands changed, a new activity row or event names it (or, for a walk-in, one of its
  contact points), a source id it was ever linked to was linked again (the golden build records those parties:
  golden_party_changes), or activity of it became due (dated between the previous and this as-of);
- a time limit of one of its keys fell between the previous and this as-of: an opt-in's validity, a
  third-party lifetime, an express lapse, or a purchase / contract / inquiry window;
- its region's registry turned fresh or stale, or one of its contact points was listed, unlisted, found
  undeliverable or proven deliverable.
Other rules, other logic, an as-of earlier than the last run's, or a full golden build since then make every
key recomputed. A party's activity and brands are then computed for the parties in scope only: those of the
others are what the last build wrote.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.build_state import BuildState, last_build, record_build, rules_fingerprint
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.scope import Scope
from consent_pipeline.core.lib.sql import SqlFolder, has_columns, timed, ts, warehouse_tables
from consent_pipeline.core.permissions.permissions import LOGIC_VERSION

log = logging.getLogger(__name__)

STAGE = "permissions"
# Every contact point whose permission rows (or another input of the suppression list or the audit) a build
# can have changed, with the build's number: the suppression list and the audit recompute only those
# (core/marketing/suppression.py, core/audit/audit.py); what both have read is removed (`release_changes`).
CHANGES = "permission_changes"
# The stages that read them, each recording in build_state the last permissions build it reflects.
CONSUMERS = ("suppression", "audit")
SQL = SqlFolder.beside(__file__)
# The activity kinds of p_relationship's windows.
RELATIONSHIP_KINDS = "'purchase', 'contract_start', 'contract_end', 'inquiry'"
# Contact points whose keys can have changed; every party they concern, and why; the parties in scope.
SCOPE_STEPS = [SQL.step("perm_changed_points"), SQL.step("perm_scope_why"), SQL.step("perm_scope")]
# Inputs of the previous run kept for comparison: warehouse table -> this run's temporary table.
PARTY_COLUMNS = ("party_id", "country", "region", "brands")
KEPT = {
    "perm_parties": f"(SELECT {', '.join(PARTY_COLUMNS)} FROM parties)",
    "perm_registry_status": "p_registry_status",
    "perm_listed": "p_listed",
    "perm_undeliverable": "p_undeliverable",
}
_PREVIOUS = ("contact_permission", "party_brands", "party_activity", "golden_changes", "golden_party_changes", *KEPT)


def _months(con: duckdb.DuckDBPyConnection, rules: Rules) -> list[int]:
    """Every window length in months that a purchase, contract or inquiry can open."""
    t = rules.templates
    months = {
        t.implied_consent.purchase_months,
        t.implied_consent.contract_months,
        t.implied_consent.inquiry_months,
        t.inferred_consent.purchase_months,
    }
    months |= {
        r[0]
        for r in con.execute(
            "SELECT purchase_months FROM ref_relationship_exemption "
            "UNION SELECT inquiry_months FROM ref_relationship_exemption"
        ).fetchall()
        if r[0] is not None
    }
    return sorted(months)


def permission_scope(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, engine: Engine = DUCKDB
) -> Scope:
    """Create temp table perm_scope (party_id); the inputs by contact point and region (build_point_inputs)
    must exist."""
    present = warehouse_tables(con)
    prev, golden = last_build(con, STAGE), last_build(con, "golden")
    if any(t not in present for t in _PREVIOUS) or prev is None or golden is None or prev.as_of is None:
        return Scope.whole("no previous permissions")
    if not has_columns(con, "perm_parties", PARTY_COLUMNS):  # written by an older version, or edited
        return Scope.whole("the last build's record of the parties is not in the current shape")
    if (prev.logic_version, prev.rules_fingerprint) != (LOGIC_VERSION, rules_fingerprint(con)):
        return Scope.whole("the rules or the permission logic changed since the last run")
    prev_as_of, golden_seq = prev.as_of, prev.upstream_seq
    if as_of < prev_as_of:
        return Scope.whole("the as-of is earlier than the last run's")
    if golden_seq is None or golden.full_seq is None or golden.full_seq > golden_seq:
        return Scope.whole("golden consent was rebuilt whole since the last run")

    window = f"BETWEEN {ts(prev_as_of)} AND {ts(as_of)}"
    months = _months(con, rules)
    rel_limits = " OR ".join(
        f"{col} + ({m}) * INTERVAL 1 MONTH {window}"
        for col in ("last_purchase", "last_contract", "last_inquiry")
        for m in months
    )
    # the parties with any purchase, contract or inquiry whose window ends between the two as-ofs: the latest
    # of each party and brand is among them
    rel_rows = (
        f"kind IN ({RELATIONSHIP_KINDS}) AND ("
        + " OR ".join(f"occurred_at + ({m}) * INTERVAL 1 MONTH {window}" for m in months)
        + ")"
    )
    days = rules.policies.third_party_consent.lifetime_days
    lapses = [r[0] for r in con.execute("SELECT DISTINCT months FROM ref_express_lapse").fetchall()]
    state_limits = " OR ".join(
        [f"valid_until {window}", f"event_ts + ({days}) * INTERVAL 1 DAY {window}"]
        + [f"event_ts + ({m}) * INTERVAL 1 MONTH {window}" for m in lapses]
    )
    engine.run_steps(
        con,
        SCOPE_STEPS,
        {
            "golden_seq": str(int(golden_seq)),
            "state_limits": state_limits,
            "rel_limits": rel_limits,
            "rel_rows": rel_rows,
            "newly_due": f"occurred_at > {ts(prev_as_of)} AND occurred_at <= {ts(as_of)}",
        },
    )
    for why, parties in con.execute("SELECT why, count(*) FROM perm_scope_why GROUP BY why ORDER BY why").fetchall():
        log.debug("permission scope: %s parties for %s", f"{parties:,}", why)
    n = con.execute("SELECT count(*) FROM perm_scope").fetchall()[0][0]
    return Scope(True, f"{n:,} parties whose permissions can have changed", n)


def next_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The number of the permissions build in progress (the last recorded one's plus one)."""
    prev = last_build(con, STAGE)
    return (prev.seq + 1) if prev and prev.seq is not None else 1


def note_changed_points(con: duckdb.DuckDBPyConnection, scope: Scope, after_write: bool) -> None:
    """Add to `permission_changes` what this build can change (inside its transaction): every contact point of
    a party in scope as the permission table holds them now, and before the scope's rows are replaced also the
    changed contact points (`perm_changed_points`) and what those parties own. Called before the write and
    again after it, so that points a party lost and points it gained are both there. A whole build starts the
    table empty: whoever reads it rebuilds whole after one (BuildState.full_seq)."""
    seq = next_seq(con)
    if not scope.incremental or CHANGES not in warehouse_tables(con):
        con.execute(f"CREATE OR REPLACE TABLE {CHANGES} (contact_point VARCHAR, seq BIGINT)")
    if not scope.incremental:
        return
    parts = ["SELECT contact_point FROM contact_permission WHERE party_id IN (SELECT party_id FROM perm_scope)"]
    if not after_write:
        # and what the party owns (its region decides the audit's deadlines), permission rows or not
        parts += [
            "SELECT contact_point FROM perm_changed_points",
            "SELECT contact_point FROM contact_point_owner WHERE party_id IN (SELECT party_id FROM perm_scope)",
        ]
    timed(
        con,
        "note permission changes",
        f"INSERT INTO {CHANGES} SELECT DISTINCT contact_point, {seq} FROM ({' UNION ALL '.join(parts)})"
        " WHERE contact_point IS NOT NULL",
    )


def changes_unreadable(con: duckdb.DuckDBPyConnection, since: int) -> str | None:
    """Why a reader that has read the changes up to permissions build `since` cannot read on from there (the
    permissions were rebuilt whole since, which starts the table empty, or lag the golden build), or None."""
    perm, golden = last_build(con, STAGE), last_build(con, "golden")
    if perm is None or golden is None or perm.seq is None or perm.full_seq is None or perm.full_seq > since:
        return "the permissions were rebuilt whole since the last build"
    if since > perm.seq:  # a state no run writes (edited or damaged): trust nothing it says
        return "the last build claims permissions newer than the warehouse holds"
    if perm.upstream_seq is None or perm.upstream_seq != golden.seq:
        return "the permissions do not reflect the last golden build"
    return None


def record_read(con: duckdb.DuckDBPyConnection, state: BuildState) -> None:
    """Record a reader's build (inside its transaction) as reflecting the last permissions build, and remove the
    changes every reader has now read."""
    perm = last_build(con, STAGE)
    record_build(con, replace(state, upstream_seq=perm.seq if perm else None))
    release_changes(con)


def release_changes(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the changes every reader has read (a reader with no build yet rebuilds whole: it does not wait)."""
    read = [b.upstream_seq for b in (last_build(con, c) for c in CONSUMERS) if b is not None]
    if CHANGES in warehouse_tables(con) and read and None not in read:
        con.execute(f"DELETE FROM {CHANGES} WHERE seq <= $s", {"s": min(s for s in read if s is not None)})


def record_permission_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, scope: Scope) -> None:
    """What this run's permissions reflect (for the next run's comparison)."""
    for table, source in KEPT.items():
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {source}")
    golden = last_build(con, "golden")
    golden_seq = golden.seq if golden else None
    prev = last_build(con, STAGE)
    seq = next_seq(con)
    record_build(
        con,
        BuildState(
            STAGE,
            LOGIC_VERSION,
            rules_fingerprint(con),
            as_of=as_of,
            seq=seq,
            full_seq=(prev.full_seq if prev and scope.incremental else seq),
            upstream_seq=golden_seq,
            recomputed=scope.size if scope.incremental else None,
        ),
    )
    if golden_seq is not None:
        present = warehouse_tables(con)
        for table in ("golden_changes", "golden_party_changes"):
            if table in present:
                con.execute(f"DELETE FROM {table} WHERE seq <= $s", {"s": golden_seq})
