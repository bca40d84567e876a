"""Whether a message may be sent (semantics §5): one row per owned contact point x channel of its type x
leaf purpose x brand of the party's relationships, with `allowed`, the first applicable `reason` of the
decision table, the event that decided it and when it runs out.

All set-based SQL over whole tables, parameterised by the run's as-of time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.build_state import logic_version
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.reference import required_purposes
from consent_pipeline.core.lib.replaced import Scoped
from consent_pipeline.core.lib.sql import SqlFolder, text, ts

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
PARTY_BRANDS = SQL.step("p_party_brands")
ACTIVITY_PARTY = SQL.step("p_activity_party")
RELATIONSHIP = SQL.step("p_relationship")
REGISTRY_STATUS = SQL.step("p_registry_status")
LISTED = SQL.step("p_listed")
UNDELIVERABLE = SQL.step("p_undeliverable")
KEYS = SQL.step("p_keys")
FACTS = SQL.step("p_facts")
BASES = SQL.step("p_bases")
DECISION = SQL.step("p_decision")
PERMISSION = SQL.step("p_permission")

# Inputs by contact point and region (whole tables, cheap: the scope compares them with the last run's), inputs by
# party (every party, or those in perm_scope), then the per-key chain (every party, or those in perm_scope).
POINT_INPUT_STEPS = [REGISTRY_STATUS, LISTED, UNDELIVERABLE]
PARTY_INPUT_STEPS = [ACTIVITY_PARTY, PARTY_BRANDS, RELATIONSHIP]
INPUT_STEPS = POINT_INPUT_STEPS + PARTY_INPUT_STEPS
KEY_STEPS = [KEYS, FACTS, BASES, DECISION, PERMISSION]
STEPS = INPUT_STEPS + KEY_STEPS
# The permission logic: its SQL files and this module (which generates their parameters). A change to any
# recomputes every key on the next run.
LOGIC_VERSION = logic_version("permissions", [*SQL.files(), Path(__file__)])


def _in_scope(column: str, scoped: bool) -> str:
    """A condition: `column` names a party in perm_scope (always true unscoped)."""
    return f"{column} IN (SELECT party_id FROM perm_scope)" if scoped else "true"


def params(rules: Rules, as_of: dt.datetime, scoped: bool = False) -> dict[str, str]:
    """The steps' parameters; `scoped`: only the inputs and keys of the parties in perm_scope."""
    t = rules.templates
    owned = "(SELECT contact_point FROM contact_point_owner WHERE party_id IN (SELECT party_id FROM perm_scope))"
    return {
        "as_of": ts(as_of),
        "express_bases": ", ".join(text(b) for b in t.express_bases),
        "required_purposes": required_purposes(rules),
        "third_party_days": str(rules.policies.third_party_consent.lifetime_days),
        "implied_purchase": str(t.implied_consent.purchase_months),
        "implied_contract": str(t.implied_consent.contract_months),
        "implied_inquiry": str(t.implied_consent.inquiry_months),
        "inferred_purchase": str(t.inferred_consent.purchase_months),
        "party_scope": _in_scope("o.party_id", scoped),
        "scope_parties": _in_scope("party_id", scoped),
        # scoped, the activity rows that name a party in scope or are walk-ins at one of its contact points
        "activity_rows": (
            f"(party_id IN (SELECT party_id FROM perm_scope) OR party_id IS NULL AND (email IN {owned}"
            f" OR email IS NULL AND phone IN {owned}))"
            if scoped
            else "true"
        ),
        "activity_party": _in_scope("coalesce(a.party_id, oe.party_id, op.party_id)", scoped),
        # scoped, the states of those parties' contact points only: the join never builds over every key
        "current": (
            "(SELECT * FROM consent_current WHERE contact_point IN (SELECT contact_point FROM contact_point_owner"
            " WHERE party_id IN (SELECT party_id FROM perm_scope)))"
            if scoped
            else "consent_current"
        ),
    }


def build_permission_inputs(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, engine: Engine = DUCKDB
) -> None:
    """Every input, for every party (identity, merge, erasure register and reference tables must exist)."""
    build_point_inputs(con, rules, as_of, engine)
    build_party_inputs(con, rules, as_of, engine=engine)


def build_point_inputs(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, engine: Engine = DUCKDB
) -> None:
    """Temp tables p_registry_status, p_listed, p_undeliverable."""
    engine.run_steps(con, POINT_INPUT_STEPS, params(rules, as_of))


def build_party_inputs(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, scoped: bool = False, engine: Engine = DUCKDB
) -> None:
    """Temp tables p_activity_party, p_party_brands, p_relationship: of every party, or (scoped) of the parties
    in perm_scope only."""
    engine.run_steps(con, PARTY_INPUT_STEPS, params(rules, as_of, scoped))


def build_permissions(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, scoped: bool = False, engine: Engine = DUCKDB
) -> None:
    """View p_permission: every key, or (scoped) the keys of the parties in perm_scope. The inputs must have
    been built by build_permission_inputs."""
    p = params(rules, as_of, scoped)
    # every key: the stage writes the result whole as contact_permission (write_all_permissions)
    engine.run_steps(con, KEY_STEPS, p, writes=None if scoped else {"p_permission": "contact_permission"})


def write_all_permissions(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, batch_parties: int, engine: Engine = DUCKDB
) -> int:
    """contact_permission for every party, in batches of about `batch_parties` parties: each batch is the
    scoped computation over its parties (perm_scope), so the joins of a very large run stay in memory
    instead of spilling the whole table's build. Returns the number of batches. (Another engine than the
    warehouse's computes every party at once: it partitions by itself.)"""
    parties = con.execute("SELECT count(*) FROM parties").fetchall()[0][0]
    batches = max(1, -(-parties // max(1, batch_parties))) if engine.writes_in_place else 1
    if batches == 1:
        build_permissions(con, rules, as_of, engine=engine)
        engine.write_table(con, "contact_permission", "p_permission")
        return 1
    con.execute("CREATE OR REPLACE TEMP TABLE perm_scope (party_id VARCHAR)")
    build_permissions(con, rules, as_of, scoped=True)
    for batch in range(batches):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE perm_scope AS "
            f"SELECT party_id FROM parties WHERE hash(party_id) % {batches} = {batch}"
        )
        # the first batch replaces the table, each later one adds its parties' rows (replaces no row)
        engine.write_table(con, "contact_permission", "p_permission", "false" if batch else None)
    return batches


# A permission's key. An incremental build replaces a party's rows whole (REPLACED_BY), so the rows of the
# other parties are checked by fingerprint (core/lib/replaced.py).
KEY = "party_id, contact_point, channel, purpose, brand"
REPLACED_BY = "party_id"

# Grouping 50M rows by one hash, then only the suspects by their five columns (exact whatever the hash), is
# three times faster than grouping by the five columns.
DUPLICATES = f"""
    WITH suspects AS (SELECT hash({KEY}) AS h FROM {{contact_permission}} GROUP BY 1 HAVING count(*) > 1)
    SELECT {KEY}, count(*) AS rows FROM {{contact_permission}}
    WHERE hash({KEY}) IN (SELECT h FROM suspects)
    GROUP BY ALL HAVING count(*) > 1
    """

INVARIANTS = [
    Invariant(
        "one_permission_per_key",
        "contact_permission",
        "one permission per (party, contact point, channel, purpose, brand)",
        DUPLICATES.format(contact_permission="contact_permission"),
        # a duplicate key has one party: among the replaced parties' rows, or among rows that passed before
        scoped=Scoped(REPLACED_BY, {"contact_permission": KEY}, DUPLICATES),
    ),
    Invariant(
        "opted_out_never_allowed",
        "contact_permission",
        "a key whose consent state is opt_out is never allowed, except service.billing",
        """
        SELECT p.party_id, p.contact_point, p.channel, p.purpose, p.brand, p.reason
        FROM contact_permission p JOIN consent_current c USING (contact_point, channel, purpose, brand)
        WHERE c.status = 'opt_out' AND p.allowed AND p.reason <> 'service_required'
        """,
        blocking=True,
    ),
]
