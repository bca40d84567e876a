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

from consent_pipeline.core.lib.sql import Step, run_steps, ts

PURCHASES = Step(
    "s_purchases",
    """
    SELECT a.party_id, a.brand,
           count(*) FILTER (WHERE a.occurred_at >= {as_of} - (r.window_days) * INTERVAL 1 DAY) AS recent_purchases,
           -- summed as decimals: a float sum depends on row order, and so would the quartiles
           coalesce(sum(CAST(a.amount AS DECIMAL(18, 2)))
                    FILTER (WHERE a.occurred_at >= {as_of} - (r.window_days) * INTERVAL 1 DAY), 0) AS recent_spend,
           max(a.occurred_at) AS last_purchase
    FROM party_activity a CROSS JOIN ref_segment_rules r
    WHERE a.kind = 'purchase'
    GROUP BY a.party_id, a.brand
    """,
)

FREQUENT = Step(
    "s_frequent",
    """
    SELECT party_id, brand,
           'frequent_' || CAST(ntile(4) OVER (PARTITION BY brand ORDER BY recent_spend DESC, party_id) AS VARCHAR)
               AS segment
    FROM s_purchases WHERE recent_purchases >= (SELECT frequent_min FROM ref_segment_rules)
    """,
)

SEGMENTS = Step(
    "s_segments",
    """
    SELECT b.party_id, b.brand,
           CASE
               WHEN f.segment IS NOT NULL THEN f.segment
               WHEN p.recent_purchases >= 1 THEN 'occasional'
               WHEN p.last_purchase IS NULL THEN 'prospect'
               WHEN p.last_purchase >= {as_of} - (r.lapsed_1) * INTERVAL 1 DAY THEN 'lapsed_1'
               WHEN p.last_purchase >= {as_of} - (r.lapsed_2) * INTERVAL 1 DAY THEN 'lapsed_2'
               WHEN p.last_purchase >= {as_of} - (r.lapsed_3) * INTERVAL 1 DAY THEN 'lapsed_3'
               ELSE 'lapsed_4'
           END AS segment,
           coalesce(p.recent_purchases, 0) AS purchases_365d, coalesce(p.recent_spend, 0) AS spend_365d,
           p.last_purchase
    FROM party_brands b
    CROSS JOIN ref_segment_rules r
    LEFT JOIN s_purchases p ON p.party_id = b.party_id AND p.brand = b.brand
    LEFT JOIN s_frequent f ON f.party_id = b.party_id AND f.brand = b.brand
    """,
)


def build_segments(con: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> None:
    """Temp table s_segments (from the party_activity and party_brands tables)."""
    run_steps(con, [PURCHASES, FREQUENT, SEGMENTS], {"as_of": ts(as_of)})
