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
from consent_pipeline.core.lib.sql import Step, run_steps, text, ts, values_table, warehouse_tables
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.core.marketing import build_suppression, use_written_suppression

# One opt-out as it reached a contact point (a party-level opt-out reaches several).
OPTOUTS = Step(
    "a_optouts",
    """
    SELECT f.event_id, f.contact_point, min(f.source) AS source, min(f.event_ts) AS event_ts,
           min(f.received_ts) AS received_ts, count(*) AS keys,
           count(*) FILTER (WHERE s.contact_point_sha256 IS NOT NULL) AS keys_suppressed,
           count(*) FILTER (WHERE c.event_id IS NOT NULL) AS keys_current,
           count(*) FILTER (WHERE c.event_id IS NOT NULL
               AND s.contact_point_sha256 IS NOT NULL) AS keys_current_suppressed
    FROM consent_effects f
    LEFT JOIN x_suppression s ON s.key_contact_point = f.contact_point AND s.channel = f.channel AND s.brand = f.brand
                              AND s.purpose = f.purpose
    LEFT JOIN consent_current c ON c.contact_point = f.contact_point AND c.channel = f.channel AND c.brand = f.brand
                               AND c.purpose = f.purpose AND c.event_id = f.event_id
    WHERE f.status = 'opt_out' AND f.received_ts <= {as_of}
      AND f.purpose NOT IN ({required_purposes})
    GROUP BY f.event_id, f.contact_point
    """,
)

REGION = Step(
    "a_region",
    """
    SELECT o.contact_point, coalesce(p.region, f.region) AS region
    FROM contact_point_owner o LEFT JOIN parties p ON p.party_id = o.party_id CROSS JOIN ref_fallback f
    """,
)

DEADLINES = Step(
    "a_deadlines",
    """
    SELECT o.*, coalesce(r.region, f.region) AS region,
           CASE WHEN sla.kind = 'business_days'
                THEN CAST(cal.due AS TIMESTAMP) + (o.event_ts - CAST(CAST(o.event_ts AS DATE) AS TIMESTAMP))
                ELSE o.event_ts + (sla.n) * INTERVAL 1 DAY END AS deadline
    FROM a_optouts o
    CROSS JOIN ref_fallback f
    LEFT JOIN a_region r ON r.contact_point = o.contact_point
    JOIN ref_sla sla ON sla.region = coalesce(r.region, f.region)
    LEFT JOIN ref_business_days cal ON sla.kind = 'business_days' AND cal.day = CAST(o.event_ts AS DATE)
        AND cal.n = sla.n
    """,
)

# An opt-out whose deadline passed before this warehouse's first run cannot be judged by its extracts: it is
# reported as `before_first_run`, not as a breach.
SLA = Step(
    "a_optout_sla",
    """
    SELECT d.event_id, d.contact_point, d.source, d.region, d.event_ts, d.received_ts, h.honoured_at, d.deadline,
           CASE WHEN d.deadline < fr.first_as_of THEN false
                WHEN h.honoured_at IS NOT NULL THEN h.honoured_at > d.deadline
                WHEN d.keys_current = 0 THEN false
                ELSE {as_of} > d.deadline END AS breached,
           CASE WHEN d.deadline < fr.first_as_of THEN 'before_first_run'
                WHEN h.honoured_at IS NOT NULL THEN 'honoured'
                WHEN d.keys_current = 0 THEN 'superseded'
                ELSE 'pending' END AS state,
           date_diff('second', d.event_ts, d.received_ts) / 3600.0 AS source_lag_hours
    FROM a_deadlines d
    CROSS JOIN (SELECT min(as_of) AS first_as_of FROM run_log) fr
    LEFT JOIN optout_honoured h ON h.event_id = d.event_id AND h.contact_point = d.contact_point
    """,
)

# A marketing send while the key's state was an opt-out whose deadline had passed, or after an erasure's
# deadline.
VIOLATIONS = Step(
    "a_violations",
    """
    SELECT s.send_id, s.contact_point, s.channel, s.brand, s.purpose, s.sent_at, 'opted_out' AS reason,
           h.event_id AS opt_out_event_id, d.deadline
    FROM sends s
    JOIN ref_purposes rp ON rp.node = s.purpose AND rp.leaf = s.purpose AND rp.kind = 'marketing'
    JOIN consent_history h ON h.contact_point = s.contact_point AND h.channel = s.channel AND h.brand = s.brand
         AND h.purpose = s.purpose AND h.status = 'opt_out'
         AND h.valid_from <= s.sent_at AND (h.valid_to IS NULL OR h.valid_to > s.sent_at)
    JOIN a_deadlines d ON d.event_id = h.event_id AND d.contact_point = h.contact_point
    WHERE d.deadline <= s.sent_at AND s.sent_at <= {as_of}
    UNION ALL
    SELECT * FROM (
    SELECT s.send_id, s.contact_point, s.channel, s.brand, s.purpose, s.sent_at, 'erased' AS reason,
           r.request_id AS opt_out_event_id,
           CASE WHEN sla.kind = 'business_days'
                THEN CAST(cal.due AS TIMESTAMP) + (r.erased_at - CAST(CAST(r.erased_at AS DATE) AS TIMESTAMP))
                ELSE r.erased_at + (sla.n) * INTERVAL 1 DAY END AS deadline
    FROM sends s
    JOIN ref_purposes rp ON rp.node = s.purpose AND rp.leaf = s.purpose AND rp.kind = 'marketing'
    JOIN erasure_register r ON r.contact_point = s.contact_point
    CROSS JOIN ref_fallback f
    LEFT JOIN a_region rg ON rg.contact_point = r.contact_point
    JOIN ref_sla sla ON sla.region = coalesce(rg.region, f.region)
    LEFT JOIN ref_business_days cal ON sla.kind = 'business_days' AND cal.day = CAST(r.erased_at AS DATE)
        AND cal.n = sla.n
    WHERE s.sent_at > r.erased_at AND s.sent_at <= {as_of}
    ) erased_sends WHERE deadline <= sent_at  -- like an opt-out: a violation once the erasure is due
    """,
)


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
