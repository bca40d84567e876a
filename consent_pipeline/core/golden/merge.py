"""Golden consent (semantics §3-4): project events onto contact points, expand their scope to leaf keys,
and merge by source time into immutable history and the current state per key.

Key = (contact_point, channel, leaf purpose, brand). The latest event_ts wins whatever the delivery order;
on equal event_ts opt_out beats opt_in, then source priority (rules), then the smallest event id; a
`pending` never replaces an `opt_in`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from consent_pipeline.core.identity import LOGIC_FILES as IDENTITY_FILES
from consent_pipeline.core.lib.build_state import logic_version
from consent_pipeline.core.lib.sql import SqlFolder

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
KEY = "contact_point, channel, purpose, brand"

EVENTS = SQL.step("m_events")
TARGETS = SQL.step("m_targets")
EFFECTS = SQL.step("m_effects")
MULTI_KEYS = SQL.step("m_multi_keys")
EFFECTIVE = SQL.step("m_effective")
HISTORY = SQL.step("m_history")
CURRENT = SQL.step("m_current")

# Events and their targets (temporary), then the three golden tables, each computed from the one before.
INPUT_STEPS = [EVENTS, TARGETS]
TABLE_STEPS = [EFFECTS, MULTI_KEYS, EFFECTIVE, HISTORY, CURRENT]
STEPS = INPUT_STEPS + TABLE_STEPS


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


# Table macros for auditors (outputs.md): statements run after the golden tables are written.
MACROS = ["consent_as_of", "consent_as_known"]
# The golden build's logic: its SQL files, this module (which generates the scope conditions) and identity's
# (decided again only for touched contact points by an incremental build). A change to any rebuilds every
# key on the next run instead of only touched ones.
LOGIC_VERSION = logic_version("merge", [*SQL.files(), Path(__file__), *IDENTITY_FILES])


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for name in MACROS:
        con.execute(SQL.statement(name))
