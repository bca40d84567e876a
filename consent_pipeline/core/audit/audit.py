"""Audit (semantics §8): the opt-out service level and marketing sends that should not have happened.

`optout_honoured` is the one table that carries state from run to run: the as-of of the first run whose
suppression extract held each opt-out. Everything else is rebuilt each run.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.reference import load_reference, required_purposes
from consent_pipeline.core.lib.sql import SqlFolder, run_steps, text, ts, values_table, warehouse_tables
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.core.marketing import build_suppression, use_written_suppression

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
OPTOUTS = SQL.step("a_optouts")
REGION = SQL.step("a_region")
DEADLINES = SQL.step("a_deadlines")
SLA = SQL.step("a_optout_sla")
VIOLATIONS = SQL.step("a_violations")


def _calendar(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime) -> None:
    """ref_sla, and ref_business_days: for each day and each business-day SLA, the day N working days
    (Monday to Friday; public holidays are not modelled) after it. A table keeps the SQL engine-neutral."""
    slas: list[tuple[str, str, int]] = []
    for region, rule in rules.policies.optout_sla.items():
        kind, n = ("business_days", rule.business_days) if rule.business_days is not None else ("days", rule.days or 0)
        slas.append((region, kind, n))
    values_table(con, "ref_sla", {"region": "VARCHAR", "kind": "VARCHAR", "n": "INTEGER"}, slas)
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


def build_audit(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, run_id: str, required: str | None = None
) -> None:
    """Temp tables a_optout_sla and a_violations (x_suppression of this run must exist). `required`: the
    purposes no opt-out stops, as a SQL list (default: from the rules)."""
    log_run(con, run_id, as_of)
    _calendar(con, rules, as_of)
    p = {"as_of": ts(as_of), "required_purposes": required_purposes(rules) if required is None else required}
    run_steps(con, [OPTOUTS, REGION, DEADLINES], p)
    record_honoured(con, as_of, run_id)
    run_steps(con, [SLA, VIOLATIONS], p)


def write_audit(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, run_id: str) -> None:
    """optout_sla and violations, in one transaction, against the suppression this run's extracts hold
    (the warehouse's `suppression`; built here if it is missing)."""
    load_reference(con, rules)
    if "suppression" in warehouse_tables(con):
        use_written_suppression(con)
    else:
        build_suppression(con, rules)
    build_audit(con, rules, as_of, run_id)
    with transaction(con, "audit commit"):
        con.execute("CREATE OR REPLACE TABLE optout_sla AS SELECT * FROM a_optout_sla ORDER BY event_id, contact_point")
        con.execute("CREATE OR REPLACE TABLE violations AS SELECT * FROM a_violations ORDER BY send_id")


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
