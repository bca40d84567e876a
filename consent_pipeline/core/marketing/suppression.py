"""Who must not be contacted (outputs.md suppression lists): one row per contact point x channel x brand x
leaf purpose, with the strongest reason: erased, undeliverable, opted_out, dnc_registry.

Every marketing purpose and every brand in rules; service purposes only where opted out (never
service.billing). Contact points count whether or not a known customer owns them; erased ones appear only
as their SHA-256.
"""

from __future__ import annotations

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.reference import required_purposes
from consent_pipeline.core.lib.sql import SqlFolder, run_steps, timed

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
CANDIDATES = SQL.step("x_candidates")
SUPPRESSION = SQL.step("x_suppression")


def build_suppression(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    """Warehouse table `suppression`, and x_suppression a view of it for this run's later steps (reference
    tables and the golden/permission tables must exist, with what permissions kept of this run's registry
    listings and undeliverable points: perm_listed, perm_undeliverable). Written straight from its SQL: no
    temporary copy."""
    run_steps(con, [CANDIDATES, SUPPRESSION], {"required_purposes": required_purposes(rules)})
    timed(con, "write suppression", "CREATE OR REPLACE TABLE suppression AS SELECT * FROM x_suppression")
    use_written_suppression(con)


def use_written_suppression(con: duckdb.DuckDBPyConnection) -> None:
    """x_suppression as the warehouse's `suppression` table, for steps after the one that wrote it."""
    con.execute("CREATE OR REPLACE TEMP VIEW x_suppression AS SELECT * FROM suppression")


INVARIANTS = [
    Invariant(
        "opted_out_suppressed",
        "suppression",
        "every key in state opt_out (except service.billing) is in the suppression list",
        """
        SELECT c.contact_point, c.channel, c.brand, c.purpose FROM consent_current c
        JOIN rules_purposes p ON p.purpose = c.purpose
        WHERE c.status = 'opt_out' AND p.opt_out_allowed
          AND NOT EXISTS (SELECT 1 FROM suppression s WHERE s.key_contact_point = c.contact_point
                          AND s.channel = c.channel AND s.brand = c.brand AND s.purpose = c.purpose)
        """,
        blocking=True,
    ),
]
