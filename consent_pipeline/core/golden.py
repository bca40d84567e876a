"""The golden stage: identity + merge computed in temporary tables, then swapped in in one transaction, so a
run killed at any point leaves the last good state."""

from __future__ import annotations

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.identity import build_identity
from consent_pipeline.core.invariants import Invariant, register
from consent_pipeline.core.merge import KEY, build_merge, create_macros
from consent_pipeline.core.reference import load_reference, persist_rules_tables
from consent_pipeline.lib import faults
from consent_pipeline.warehouse.schema import ensure_ingest_tables

# warehouse table -> (temporary table it is built in, sort order that makes re-runs byte-identical)
GOLDEN_TABLES: dict[str, tuple[str, str]] = {
    "parties": ("id_parties", "party_id"),
    "contact_point_owner": ("id_owner", "contact_point"),
    "party_contact_points": ("id_party_points", "party_id, contact_point"),
    "consent_effects": ("m_effects", f"{KEY}, event_ts, event_id"),
    "consent_history": ("m_history", f"{KEY}, valid_from, valid_to NULLS LAST, event_id"),
    "consent_current": ("m_current", KEY),
    "waiting_events": ("id_waiting", "event_id"),
}


def build_golden(con: duckdb.DuckDBPyConnection, rules: Rules) -> dict[str, int]:
    ensure_ingest_tables(con)
    load_reference(con, rules)
    build_identity(con)
    build_merge(con)
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, (temp, order) in GOLDEN_TABLES.items():
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {temp} ORDER BY {order}")
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            faults.pause(f"golden:{table}")
        create_macros(con)
        persist_rules_tables(con, rules)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


register(
    Invariant(
        "one_current_state_per_key",
        "consent_current",
        "each key (contact point, channel, leaf purpose, brand) has exactly one current state",
        f"SELECT {KEY}, count(*) AS states FROM consent_current GROUP BY {KEY} HAVING count(*) > 1",
    )
)
register(
    Invariant(
        "current_is_latest_history",
        "consent_history",
        "the current state of each key is the open version of its history",
        f"""
        SELECT c.contact_point, c.channel, c.purpose, c.brand, c.event_id
        FROM consent_current c
        LEFT JOIN consent_history h USING ({KEY}, event_id)
        WHERE h.event_id IS NULL OR h.valid_to IS NOT NULL
        """,
    )
)
register(
    Invariant(
        "leaf_scopes_only",
        "consent_current",
        "golden keys hold leaf values only (no `*`, no parent purpose)",
        """
        SELECT contact_point, channel, purpose, brand FROM consent_current
        WHERE channel = '*' OR brand = '*' OR purpose = '*' OR purpose NOT LIKE '%.%'
        """,
    )
)
register(
    Invariant(
        "one_owner_per_contact_point",
        "contact_point_owner",
        "every contact point has exactly one owner",
        "SELECT contact_point, count(*) AS owners FROM contact_point_owner GROUP BY contact_point HAVING count(*) > 1",
    )
)
