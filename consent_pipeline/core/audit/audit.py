"""Audit (semantics §8): the opt-out service level and marketing sends that should not have happened.

`optout_honoured` carries state from run to run: the as-of of the first run whose suppression extract held
each opt-out. `optout_sla` and `violations` are keyed by contact point (an opt-out's row depends only on its
contact point's effects, current states, suppression rows and owner's region; a send's only on its contact
point's history, deadlines and erasure), so a night recomputes only the contact points whose inputs can have
changed since the last audit (`audit_scope`):
- those the permissions builds since then noted (`permission_changes`: golden's changes, changed listings
  and deliverability, every point of a party whose permissions or region were recomputed);
- those of sends in files the last audit had not seen, and of sends or opt-outs that the later as-of now
  takes in (a time after the last as-of, up to this one);
- those with an opt-out still `pending`: the passing time can breach it.
A first audit, other rules or logic, an as-of earlier than the last audit's, a whole permissions build since,
permissions that lag the golden build, or a suppression list rebuilt whole tonight recompute everything.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.build_state import BuildState, last_build, logic_version, rules_fingerprint
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.reference import load_reference, required_purposes
from consent_pipeline.core.lib.scope import Scope
from consent_pipeline.core.lib.sql import (
    SqlFolder,
    has_columns,
    text,
    timed,
    ts,
    values_table,
    warehouse_tables,
)
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.core.marketing import SUPPRESSION_STAGE, build_suppression, use_written_suppression
from consent_pipeline.core.permissions import CHANGES, changes_unreadable, record_read
from consent_pipeline.core.permissions import STAGE as PERMISSIONS

log = logging.getLogger(__name__)

STAGE = "audit"
SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
# Its SQL files and this module: a change to either recomputes every contact point on the next run.
LOGIC_VERSION = logic_version(STAGE, [*SQL.files(), Path(__file__)])
IN_SCOPE = "contact_point IN (SELECT contact_point FROM a_scope)"
# The files whose sends the last audit saw (a send in a later file can be a violation of an old opt-out).
INPUTS = "audit_inputs"
OPTOUTS = SQL.step("a_optouts")
REGION = SQL.step("a_region")
DEADLINES = SQL.step("a_deadlines")
SLA = SQL.step("a_optout_sla")
VIOLATIONS = SQL.step("a_violations")


def _slas(con: duckdb.DuckDBPyConnection, rules: Rules) -> list[tuple[str, str, int]]:
    """ref_sla: each region's opt-out deadline (rules' policies), also part of the audit's rules fingerprint."""
    slas: list[tuple[str, str, int]] = []
    for region, rule in rules.policies.optout_sla.items():
        kind, n = ("business_days", rule.business_days) if rule.business_days is not None else ("days", rule.days or 0)
        slas.append((region, kind, n))
    values_table(con, "ref_sla", {"region": "VARCHAR", "kind": "VARCHAR", "n": "INTEGER"}, slas)
    return slas


def _calendar(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime) -> None:
    """ref_sla, and ref_business_days: for each day and each business-day SLA, the day N working days
    (Monday to Friday; public holidays are not modelled) after it. A table keeps the SQL engine-neutral."""
    slas = _slas(con, rules)
    first = con.sql("SELECT min(event_ts) FROM consent_effects").fetchall()[0][0] or as_of
    start = min(first, as_of - dt.timedelta(days=400)).date()
    ns = sorted({n for _, kind, n in slas if kind == "business_days"})
    rows: list[tuple[dt.date, int, dt.date]] = []
    day = start
    while day <= as_of.date() + dt.timedelta(days=1):
        for n in ns:
            due, left = day, n
            while left:
                due += dt.timedelta(days=1)
                if due.weekday() < 5:
                    left -= 1
            rows.append((day, n, due))
        day += dt.timedelta(days=1)
    values_table(con, "ref_business_days", {"day": "DATE", "n": "INTEGER", "due": "DATE"}, rows)


def record_honoured(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, run_id: str) -> int:
    """Opt-outs that tonight's suppression extract holds for every key they still decide, first time seen (a key a
    newer opt-in has taken back is no longer this opt-out's to honour)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS optout_honoured (event_id VARCHAR, contact_point VARCHAR, "
        "honoured_at TIMESTAMP, run_id VARCHAR)"
    )
    return con.execute(
        f"""
        INSERT INTO optout_honoured
        SELECT o.event_id, o.contact_point, {ts(as_of)}, {text(run_id)}
        FROM a_optouts o
        WHERE o.keys_current > 0 AND o.keys_current_suppressed = o.keys_current
          AND NOT EXISTS (SELECT 1 FROM optout_honoured h WHERE h.event_id = o.event_id
              AND h.contact_point = o.contact_point)
        """
    ).fetchall()[0][0]


def log_run(con: duckdb.DuckDBPyConnection, run_id: str, as_of: dt.datetime) -> None:
    """The run log: which runs produced extracts, for which as-of (the SLA's baseline is the first)."""
    con.execute("CREATE TABLE IF NOT EXISTS run_log (run_id VARCHAR, as_of TIMESTAMP, logged_at TIMESTAMP)")
    con.execute(
        "INSERT INTO run_log SELECT ?, ?, CAST(now() AS TIMESTAMP) WHERE NOT EXISTS "
        "(SELECT 1 FROM run_log WHERE run_id = ?)",
        [run_id, as_of, run_id],
    )


def params(as_of: dt.datetime, required: str, scoped: bool) -> dict[str, str]:
    """The steps' parameters: every contact point, or (scoped) those in a_scope."""
    return {"as_of": ts(as_of), "required_purposes": required, "scope": IN_SCOPE if scoped else "true"}


def audit_scope(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, fingerprint: str) -> Scope:
    """Create temp table a_scope (contact_point) and say whether to use it, or why everything is recomputed
    (the module's docstring says what is in it). `fingerprint`: this run's rules, the SLA policy included."""
    if not {"optout_sla", "violations", INPUTS, CHANGES} <= warehouse_tables(con):
        return Scope.whole("no previous audit")
    if not has_columns(con, INPUTS, ("source_file", "run_id")):  # written by an older version, or edited
        return Scope.whole("the last audit's record of its input files is not in the current shape")
    prev, perm, suppression = last_build(con, STAGE), last_build(con, PERMISSIONS), last_build(con, SUPPRESSION_STAGE)
    if prev is None or prev.as_of is None or prev.upstream_seq is None:
        return Scope.whole("no previous audit")
    if (prev.logic_version, prev.rules_fingerprint) != (LOGIC_VERSION, fingerprint):
        return Scope.whole("the rules or the audit logic changed since the last audit")
    if as_of < prev.as_of:
        return Scope.whole("the as-of is earlier than the last audit's")
    why = changes_unreadable(con, prev.upstream_seq)
    if why:
        return Scope.whole(why)
    if perm is None or suppression is None or suppression.upstream_seq != perm.seq or suppression.recomputed is None:
        return Scope.whole("the suppression list was rebuilt whole tonight, or lags the permissions")
    window = f"> {ts(prev.as_of)} AND {{col}} <= {ts(as_of)}"
    timed(
        con,
        "audit scope",
        f"""
        CREATE OR REPLACE TEMP TABLE a_scope AS
        SELECT DISTINCT contact_point FROM (
            SELECT contact_point FROM {CHANGES} WHERE seq > {int(prev.upstream_seq)}
            UNION ALL SELECT contact_point FROM sends
                WHERE source_file IN (SELECT source_file FROM (
                        SELECT source_file, run_id FROM ingest_ledger
                        EXCEPT SELECT source_file, run_id FROM {INPUTS}))
                   OR (sent_at {window.format(col="sent_at")})
            UNION ALL SELECT contact_point FROM consent_effects
                WHERE status = 'opt_out' AND received_ts {window.format(col="received_ts")}
            UNION ALL SELECT contact_point FROM optout_sla WHERE state = 'pending'
        ) WHERE contact_point IS NOT NULL
        """,
    )
    n = con.execute("SELECT count(*) FROM a_scope").fetchall()[0][0]
    return Scope(True, f"{n:,} contact points whose opt-outs or sends can have changed", n)


def build_audit(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    as_of: dt.datetime,
    run_id: str,
    required: str | None = None,
    scoped: bool = False,
    engine: Engine = DUCKDB,
) -> None:
    """Temp tables a_optout_sla and a_violations, for every contact point or (scoped) those in a_scope
    (x_suppression of this run must exist). `required`: the purposes no opt-out stops, as a SQL list
    (default: from the rules). The steps run on the engine."""
    log_run(con, run_id, as_of)
    _calendar(con, rules, as_of)
    p = params(as_of, required_purposes(rules) if required is None else required, scoped)
    engine.run_steps(con, [OPTOUTS, REGION, DEADLINES], p)
    record_honoured(con, as_of, run_id)
    engine.run_steps(con, [SLA, VIOLATIONS], p)


def write_audit(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, run_id: str, engine: Engine = DUCKDB
) -> Scope:
    """optout_sla and violations (whole, or the contact points in scope replaced), in one transaction, against
    the suppression this run's extracts hold (the warehouse's `suppression`; built here if it is missing)."""
    load_reference(con, rules)
    if "suppression" in warehouse_tables(con):
        use_written_suppression(con)
    else:
        build_suppression(con, rules, engine)
    _slas(con, rules)
    # before the calendar table, which spans dates up to the as-of (not a rule)
    fingerprint = rules_fingerprint(con)
    scope = audit_scope(con, as_of, fingerprint)
    log.debug("audit scope: %s", scope.reason)
    build_audit(con, rules, as_of, run_id, scoped=scope.incremental, engine=engine)
    with transaction(con, "audit commit"):
        where = IN_SCOPE if scope.incremental else None
        engine.write_table(con, "optout_sla", "a_optout_sla", where, order="event_id, contact_point")
        engine.write_table(con, "violations", "a_violations", where, order="send_id")
        # A file is known by its ledger row's run: one read again (a connector that failed on it, retried by the
        # next run) is new again, with the sends it brought this time.
        con.execute(f"CREATE OR REPLACE TABLE {INPUTS} AS SELECT DISTINCT source_file, run_id FROM ingest_ledger")
        recomputed = scope.size if scope.incremental else None
        record_read(con, BuildState(STAGE, LOGIC_VERSION, fingerprint, as_of=as_of, recomputed=recomputed))
    return scope


INVARIANTS = [
    Invariant(
        "no_optout_breach",
        "optout_sla",
        "every opt-out was honoured in a suppression extract within its region's deadline",
        "SELECT event_id, contact_point, region, event_ts, deadline, honoured_at, state FROM optout_sla WHERE breached",
    ),
    Invariant(
        "no_send_after_optout",
        "violations",
        "no marketing was sent after an opt-out or erasure should have been honoured",
        "SELECT send_id, contact_point, channel, brand, purpose, sent_at, reason FROM violations",
    ),
]
