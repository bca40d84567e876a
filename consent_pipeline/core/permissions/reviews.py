"""The preference review queue (semantics §7): customers never reviewed or not reviewed within the
interval, and senders of free-text SMS revocations. It never blocks a send."""

from __future__ import annotations

import datetime as dt

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.sql import SqlFolder, ts

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
LAST_REVIEW = SQL.step("r_last_review")
QUEUE = SQL.step("r_queue")


def build_review_queue(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, engine: Engine = DUCKDB
) -> None:
    engine.run_steps(
        con,
        [LAST_REVIEW, QUEUE],
        {
            "as_of": ts(as_of),
            "interval_months": str(rules.policies.reviews.interval_months),
        },
    )
