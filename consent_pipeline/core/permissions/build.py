"""The permissions stage: its inputs, the scope (or a whole rebuild), the review queue, and every table it
writes, in one transaction (the Dagster asset only calls `build_permission_tables` and reports)."""

from __future__ import annotations

import datetime as dt
import logging
import time

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.reference import load_reference
from consent_pipeline.core.lib.replaced import forget_replaced, record_replaced
from consent_pipeline.core.lib.scope import Scope
from consent_pipeline.core.lib.sql import joins_as_written
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.core.permissions.permission_scope import (
    note_changed_points,
    permission_scope,
    record_permission_inputs,
)
from consent_pipeline.core.permissions.permissions import (
    KEY,
    REPLACED_BY,
    build_party_inputs,
    build_permissions,
    build_point_inputs,
    write_all_permissions,
)
from consent_pipeline.core.permissions.reviews import build_review_queue
from consent_pipeline.lib import faults

log = logging.getLogger(__name__)

# warehouse table -> the temporary table or view it is written from (no sort: row order is not a contract)
TABLES = {
    "contact_permission": "p_permission",
    "review_queue": "r_queue",
    "party_brands": "p_party_brands",
    "party_activity": "p_activity_party",
}
# Tables an incremental build writes for the parties in scope only (their temporary tables hold those parties'
# rows): the other parties' rows are what a whole write would leave (permission_scope.py says why).
BY_PARTY = ("party_brands", "party_activity")


def build_permission_tables(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    as_of: dt.datetime,
    full: bool,
    batch_parties: int,
    engine: Engine = DUCKDB,
) -> Scope:
    """contact_permission (whole, or only the parties whose permissions can have changed), review_queue,
    party_brands, party_activity and what the next run compares against; returns the scope used."""
    load_reference(con, rules)
    build_point_inputs(con, rules, as_of, engine)
    started = time.perf_counter()
    scope = Scope.whole("asked for a full rebuild") if full else permission_scope(con, rules, as_of, engine)
    log.debug("permission scope: %.2fs", time.perf_counter() - started)
    build_party_inputs(con, rules, as_of, scoped=scope.incremental, engine=engine)
    if scope.incremental:
        build_permissions(con, rules, as_of, scoped=True, engine=engine)
    build_review_queue(con, rules, as_of, engine)
    with transaction(con, "permissions commit"):
        note_changed_points(con, scope, after_write=False)
        if scope.incremental:  # only the parties in scope: their rows replaced
            where = record_replaced(con, "contact_permission", REPLACED_BY, "SELECT party_id FROM perm_scope", KEY)
            # DuckDB underestimates the scoped keys (p_keys) 10-25x and would build the consent states' join on
            # them, the larger side (docs/performance.md, round 10): 1.7 s against 0.4 s at scale 10.
            with joins_as_written(con):
                engine.write_table(con, "contact_permission", "p_permission", where)
            note_changed_points(con, scope, after_write=True)
        else:
            forget_replaced(con, "contact_permission")
            write_all_permissions(con, rules, as_of, batch_parties, engine)
        faults.pause("permissions:contact_permission")
        for table, temp in TABLES.items():
            if table == "contact_permission":
                continue
            by_party = scope.incremental and table in BY_PARTY
            engine.write_table(con, table, temp, "party_id IN (SELECT party_id FROM perm_scope)" if by_party else None)
        started = time.perf_counter()
        record_permission_inputs(con, as_of, scope)
        log.debug("record permission inputs: %.2fs", time.perf_counter() - started)
    return scope
