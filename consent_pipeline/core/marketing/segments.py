"""Customer segments per party and brand, as of the run (semantics §7).

With the shipped thresholds (policies.yaml `segments`, the reference table `ref_segment_rules`):
frequent_1..4: >= 3 purchases in the last 365 days, ntile(4) over 365-day spend within the brand (descending,
ties by party id; 1 is the highest); occasional: 1 or 2 purchases in the last 365 days; lapsed_1..4: the last
purchase 366-545, 546-730, 731-1095, over 1095 days ago; prospect: no purchase ever. "In the last 365 days"
means at or after as_of - 365 days.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.sql import SqlFolder, ts
from consent_pipeline.core.lib.transaction import transaction

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
PURCHASES = SQL.step("s_purchases")
FREQUENT = SQL.step("s_frequent")
SEGMENTS = SQL.step("s_segments")


def build_segments(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, engine: Engine = DUCKDB) -> None:
    """Temp table s_segments (from the party_activity and party_brands tables), computed on the engine."""
    engine.run_steps(con, [PURCHASES, FREQUENT, SEGMENTS], {"as_of": ts(as_of)}, writes={"s_segments": "segments"})


def write_segments(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, engine: Engine = DUCKDB) -> None:
    """The warehouse's `segments`, rebuilt whole (a failure leaves the previous one: one transaction)."""
    build_segments(con, as_of, engine)
    with transaction(con, "segments commit"):
        engine.write_table(con, "segments", "s_segments")
