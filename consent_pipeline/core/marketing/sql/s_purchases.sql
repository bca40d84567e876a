-- step: s_purchases
-- kind: table
-- parameters: as_of (timestamp)
SELECT a.party_id, a.brand,
       count(*) FILTER (WHERE a.occurred_at >= {as_of} - (r.window_days) * INTERVAL 1 DAY) AS recent_purchases,
       -- summed as decimals: a float sum depends on row order, and so would the quartiles
       coalesce(sum(CAST(a.amount AS DECIMAL(18, 2)))
                FILTER (WHERE a.occurred_at >= {as_of} - (r.window_days) * INTERVAL 1 DAY), 0) AS recent_spend,
       max(a.occurred_at) AS last_purchase
FROM party_activity a CROSS JOIN ref_segment_rules r
WHERE a.kind = 'purchase'
GROUP BY a.party_id, a.brand
