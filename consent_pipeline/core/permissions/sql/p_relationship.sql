-- step: p_relationship
-- kind: table
-- parameters: none
-- The latest purchase / contract / inquiry per party and brand, with the activity that proves it: of several at
-- that same time, the largest activity id (arg_max would take any of them, and DuckDB and Spark take different
-- ones).
SELECT party_id, brand,
       max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase,
       max(activity_id) FILTER (WHERE kind = 'purchase' AND latest) AS last_purchase_id,
       max(occurred_at) FILTER (WHERE kind IN ('contract_start', 'contract_end')) AS last_contract,
       max(activity_id) FILTER (WHERE kind IN ('contract_start', 'contract_end') AND latest) AS last_contract_id,
       max(occurred_at) FILTER (WHERE kind = 'inquiry') AS last_inquiry,
       max(activity_id) FILTER (WHERE kind = 'inquiry' AND latest) AS last_inquiry_id,
       bool_or(kind = 'purchase') AS ever_purchased
FROM (
    SELECT party_id, brand, kind, occurred_at, activity_id,
           occurred_at = max(occurred_at) OVER (
               PARTITION BY party_id, brand,
                            CASE WHEN kind IN ('contract_start', 'contract_end') THEN 'contract' ELSE kind END
           ) AS latest
    FROM p_activity_party
) a
GROUP BY party_id, brand
