-- step: s_frequent
-- kind: table
-- parameters: none
SELECT party_id, brand,
       'frequent_' || CAST(ntile(4) OVER (PARTITION BY brand ORDER BY recent_spend DESC, party_id) AS VARCHAR)
           AS segment
FROM s_purchases WHERE recent_purchases >= (SELECT frequent_min FROM ref_segment_rules)
