"""The preference review queue (semantics §7): customers never reviewed or not reviewed within the
interval, and senders of free-text SMS revocations. It never blocks a send."""

from __future__ import annotations

import datetime as dt

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.sql import Step, run_steps, ts

LAST_REVIEW = Step(
    "r_last_review",
    """
    SELECT coalesce(r.party_id, l.party_id) AS party_id, max(r.reviewed_at) AS last_reviewed_at
    FROM reviews r
    LEFT JOIN (SELECT source_party_id, party_id FROM party_links
               QUALIFY row_number() OVER (PARTITION BY source_party_id
                                          ORDER BY linked_at DESC NULLS LAST, row_id) = 1) l
        ON r.party_id IS NULL AND l.source_party_id = r.party_ref
    WHERE r.reviewed_at <= {as_of}
    GROUP BY 1
    """,
)

QUEUE = Step(
    "r_queue",
    """
    SELECT p.party_id,
           CASE WHEN lr.last_reviewed_at IS NULL THEN 'never_reviewed' ELSE 'review_overdue' END AS reason,
           lr.last_reviewed_at
    FROM parties p LEFT JOIN r_last_review lr ON lr.party_id = p.party_id
    WHERE p.party_type = 'customer'
      AND (lr.last_reviewed_at IS NULL OR lr.last_reviewed_at < {as_of} - ({interval_months}) * INTERVAL 1 MONTH)
    UNION ALL
    SELECT DISTINCT o.party_id, 'free_text_revocation', lr.last_reviewed_at
    FROM consent_events e
    JOIN contact_point_owner o ON o.contact_point = e.contact_point
    LEFT JOIN r_last_review lr ON lr.party_id = o.party_id
    WHERE e.basis = 'revocation_free_text' AND e.event_ts <= {as_of}
      AND (lr.last_reviewed_at IS NULL OR lr.last_reviewed_at < e.event_ts)
    """,
)


def build_review_queue(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime) -> None:
    run_steps(
        con,
        [LAST_REVIEW, QUEUE],
        {
            "as_of": ts(as_of),
            "interval_months": str(rules.policies.reviews.interval_months),
        },
    )
