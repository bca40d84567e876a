"""Golden consent (semantics §3-4): project events onto contact points, expand their scope to leaf keys,
and merge by source time into immutable history and the current state per key.

Key = (contact_point, channel, leaf purpose, brand). The latest event_ts wins whatever the delivery order;
on equal event_ts opt_out beats opt_in, then source priority (rules), then the smallest event id; a
`pending` never replaces an `opt_in`.
"""

from __future__ import annotations

import duckdb

from consent_pipeline.core.lib.sql import Step

KEY = "contact_point, channel, purpose, brand"
# Ascending order of events within a key: the last one wins.
ORDER = "event_ts, status_rank, priority DESC, event_id DESC"
ORDER_DESC = "event_ts DESC, status_rank DESC, priority ASC, event_id ASC"

EVENTS = Step(
    "m_events",
    """
    SELECT e.*,
           CASE e.status WHEN 'opt_out' THEN 2 WHEN 'opt_in' THEN 1 ELSE 0 END AS status_rank,
           coalesce(sp.priority, '9999') AS priority,
           -- an event about a source's contact-point record names its party (the record's parent): its
           -- opt-ins wait for that party to be a known customer, and then reach only what it owns
           ((e.party_id IS NULL AND e.contact_point_ref IS NULL)
            OR EXISTS (SELECT 1 FROM id_customers c WHERE c.party_id = e.party_id)) AS party_known
    FROM consent_events e LEFT JOIN ref_source_priority sp ON sp.source = e.source
    WHERE {event_scope}
    """,
)

# Which contact points an event reaches (semantics §3): opt-outs from anyone; opt-ins only from the owner.
TARGETS = Step(
    "m_targets",
    """
    SELECT * FROM (
    SELECT e.event_id, e.contact_point AS target, e.contact_point_type AS target_type
    FROM m_events e LEFT JOIN id_owner o ON o.contact_point = e.contact_point
    WHERE e.contact_point IS NOT NULL
      AND (e.status = 'opt_out' OR (e.party_known AND (e.party_id IS NULL OR o.party_id = e.party_id)))
    UNION ALL
    SELECT e.event_id, a.contact_point, a.contact_point_type
    FROM m_events e JOIN id_party_points a ON a.party_id = e.party_id
    WHERE e.contact_point IS NULL AND e.status = 'opt_out'
      AND (e.contact_point_type IS NULL OR e.contact_point_type = a.contact_point_type)
    UNION ALL
    SELECT e.event_id, o.contact_point, o.contact_point_type
    FROM m_events e JOIN id_owner o ON o.party_id = e.party_id
    WHERE e.contact_point IS NULL AND e.status <> 'opt_out' AND e.party_known
      AND (e.contact_point_type IS NULL OR e.contact_point_type = o.contact_point_type)
    ) WHERE {target_scope}
    """,
)

# Scope expansion: `*` channel -> every channel of the contact point's type, a purpose node -> its leaves,
# `*` brand -> every brand.
EFFECTS = Step(
    "m_effects",
    """
    SELECT t.target AS contact_point, t.target_type AS contact_point_type, ch.channel, p.leaf AS purpose, b.brand,
           e.status, e.basis, e.event_ts, e.received_ts, e.source, e.event_id, e.party_id, e.valid_until,
           e.double_opt_in, e.source_file, e.source_record, e.status_rank, e.priority
    FROM m_targets t
    JOIN m_events e ON e.event_id = t.event_id
    JOIN ref_channels ch ON ch.contact_point_type = t.target_type AND (e.channel = '*' OR e.channel = ch.channel)
    JOIN ref_purposes p ON p.node = e.purpose
    JOIN ref_brands b ON e.brand = '*' OR e.brand = b.brand
    """,
)

# Most keys have a single effect (at scale 10: 10.4M keys, 1.35M with more than one): those need no window
# at all, so the two windows below (effective pendings, then the history's lead) sort only the rest.
MULTI_KEYS = Step(
    "m_multi_keys",
    f"""
    SELECT {KEY} FROM {{effects}} GROUP BY {KEY} HAVING count(*) > 1
    """,
)

# A pending is effective unless the key's last decision before it (opt_in / opt_out) is an opt_in. A lone
# effect is always effective (a pending with no decision before it included).
EFFECTIVE = Step(
    "m_effective",
    f"""
    SELECT * FROM (
        SELECT e.*,
               last_value(CASE WHEN e.status <> 'pending' THEN e.status END IGNORE NULLS) OVER (
                   PARTITION BY {KEY} ORDER BY {ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ) AS prior_decision
        FROM {{effects}} e JOIN m_multi_keys m USING ({KEY})
    ) WHERE status <> 'pending' OR prior_decision IS NULL OR prior_decision <> 'opt_in'
    """,
    view=True,  # read once, by the history
)

_HISTORY_COLUMNS = """contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts,
           source, event_id, party_id, valid_until, double_opt_in, source_file, source_record"""

HISTORY = Step(
    "m_history",
    f"""
    SELECT {_HISTORY_COLUMNS},
           event_ts AS valid_from,
           CAST(NULL AS TIMESTAMP) AS valid_to,
           received_ts AS recorded_at,
           CAST(NULL AS TIMESTAMP) AS valid_to_recorded_at,
           CAST(NULL AS VARCHAR) AS replaced_by
    FROM (
        SELECT e.* FROM {{effects}} e
        LEFT JOIN m_multi_keys m
            ON m.contact_point = e.contact_point AND m.channel = e.channel AND m.purpose = e.purpose
           AND m.brand = e.brand
        WHERE m.contact_point IS NULL
    )
    UNION ALL
    SELECT {_HISTORY_COLUMNS},
           event_ts AS valid_from,
           lead(event_ts) OVER (PARTITION BY {KEY} ORDER BY {ORDER}) AS valid_to,
           received_ts AS recorded_at,
           lead(received_ts) OVER (PARTITION BY {KEY} ORDER BY {ORDER}) AS valid_to_recorded_at,
           lead(event_id) OVER (PARTITION BY {KEY} ORDER BY {ORDER}) AS replaced_by
    FROM m_effective
    """,
)

# The open version of each key's history is its current state: the last in the same total order (no second
# sort of every event).
CURRENT = Step(
    "m_current",
    """
    SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts, source,
           event_id, party_id, valid_until, double_opt_in, source_file, source_record
    FROM {history}
    WHERE replaced_by IS NULL
    """,
)

# Events and their targets (temporary), then the three golden tables, each computed from the one before.
INPUT_STEPS = [EVENTS, TARGETS]
TABLE_STEPS = [EFFECTS, MULTI_KEYS, EFFECTIVE, HISTORY, CURRENT]
STEPS = INPUT_STEPS + TABLE_STEPS

# Bumped when the merge's logic changes: the next run then rebuilds every key instead of only touched ones.
LOGIC_VERSION = "merge-3"


def scope_params(scoped: bool, effects: str = "m_effects", history: str = "m_history") -> dict[str, str]:
    """Every key, or only the contact points in `g_scope` (and the party-level events of their parties,
    `g_scope_parties`). `effects` / `history` name the tables the later steps read."""
    if not scoped:
        return {"event_scope": "true", "target_scope": "true", "effects": effects, "history": history}
    return {
        "event_scope": "(e.contact_point IN (SELECT contact_point FROM g_scope)"
        " OR (e.contact_point IS NULL AND e.party_id IN (SELECT party_id FROM g_scope_parties)))",
        "target_scope": "target IN (SELECT contact_point FROM g_scope)",
        "effects": effects,
        "history": history,
    }


# Table macros for auditors: the state at a source time, from all that is known now (history), and from
# only what had been received by `known_at` (recomputed from the projected events).
MACROS = [
    """
    CREATE OR REPLACE MACRO consent_as_of(ts) AS TABLE
    SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts, source,
           event_id
    FROM consent_history
    WHERE valid_from <= CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS TIMESTAMP)
      AND (valid_to IS NULL OR valid_to > CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS TIMESTAMP))
    """,
    f"""
    CREATE OR REPLACE MACRO consent_as_known(ts, known_at) AS TABLE
    WITH known AS (
        SELECT * FROM consent_effects
        WHERE event_ts <= CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS TIMESTAMP)
          AND received_ts <= CAST(timezone('UTC', CAST(known_at AS TIMESTAMPTZ)) AS TIMESTAMP)
    ), ordered AS (
        SELECT *, last_value(CASE WHEN status <> 'pending' THEN status END IGNORE NULLS) OVER (
                   PARTITION BY {KEY} ORDER BY {ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ) AS prior_decision
        FROM known
    )
    SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts, source,
           event_id
    FROM ordered
    WHERE status <> 'pending' OR prior_decision IS NULL OR prior_decision <> 'opt_in'
    QUALIFY row_number() OVER (PARTITION BY {KEY} ORDER BY {ORDER_DESC}) = 1
    """,
]


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for sql in MACROS:
        con.execute(sql)
