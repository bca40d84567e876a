"""Who must not be contacted (outputs.md suppression lists): one row per contact point x channel x brand x
leaf purpose, with the strongest reason: erased, undeliverable, opted_out, dnc_registry.

Every marketing purpose and every brand in rules; service purposes only where opted out (never
service.billing). Contact points count whether or not a known customer owns them; erased ones appear only
as their SHA-256.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.sql import Step, run_steps, timed
from consent_pipeline.core.permissions.permissions import LISTED, UNDELIVERABLE, params

CANDIDATES = Step(
    "x_candidates",
    """
    SELECT r.contact_point, ch.channel, b.brand, p.leaf AS purpose, 'erased' AS reason, r.erased_at AS since, 1 AS rank
    FROM erasure_register r
    JOIN ref_channels ch ON ch.contact_point_type = r.contact_point_type
    CROSS JOIN ref_brands b
    JOIN ref_purposes p ON p.node = p.leaf AND p.kind = 'marketing'
    WHERE r.reestablished_at IS NULL
    UNION ALL
    SELECT u.contact_point, ch.channel, b.brand, p.leaf, 'undeliverable', u.since_ts, 2
    FROM p_undeliverable u
    JOIN (SELECT contact_point, min(contact_point_type) AS contact_point_type FROM undeliverable GROUP BY 1) t
        ON t.contact_point = u.contact_point
    JOIN ref_channels ch ON ch.contact_point_type = t.contact_point_type
    CROSS JOIN ref_brands b
    JOIN ref_purposes p ON p.node = p.leaf AND p.kind = 'marketing'
    UNION ALL
    SELECT c.contact_point, c.channel, c.brand, c.purpose, 'opted_out', c.event_ts, 3
    FROM consent_current c
    WHERE c.status = 'opt_out' AND c.purpose NOT IN ({required_purposes})
    UNION ALL
    SELECT k.contact_point, k.channel, k.brand, k.purpose, 'dnc_registry', li.since, 4
    FROM contact_permission k JOIN p_listed li ON li.contact_point = k.contact_point AND li.region = k.region
    WHERE k.reason = 'dnc_registry'
    """,
    view=True,  # read once, by x_suppression
)

SUPPRESSION = Step(
    "x_suppression",
    """
    SELECT contact_point,  -- an erased one as `sha256:<hex>`, like every warehouse table (outputs.md)
           CASE WHEN contact_point LIKE 'sha256:%' THEN substr(contact_point, 8) ELSE sha256(contact_point) END
               AS contact_point_sha256,
           channel, brand, purpose, reason, since,
           contact_point AS key_contact_point
    FROM x_candidates
    QUALIFY row_number() OVER (PARTITION BY contact_point, channel, brand, purpose ORDER BY rank, since) = 1
    """,
    view=True,  # computed once, as it is written to the warehouse (`build_suppression`)
)


def build_suppression(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime) -> None:
    """Warehouse table `suppression`, and x_suppression a view of it for this run's later steps (reference
    tables and the golden/permission tables must exist). Written straight from its SQL: no temporary copy."""
    run_steps(con, [UNDELIVERABLE, LISTED, CANDIDATES, SUPPRESSION], params(rules, as_of))
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
