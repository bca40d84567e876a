-- step: s_segments
-- kind: table
-- parameters: as_of (timestamp)
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
