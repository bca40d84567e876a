-- step: p_relationship
-- kind: table
-- parameters: none
-- The latest purchase / contract / inquiry per party and brand (with the activity that proves it).
SELECT party_id, brand,
       max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase,
       arg_max(activity_id, occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase_id,
       max(occurred_at) FILTER (WHERE kind IN ('contract_start', 'contract_end')) AS last_contract,
       arg_max(activity_id, occurred_at)
           FILTER (WHERE kind IN ('contract_start', 'contract_end')) AS last_contract_id,
       max(occurred_at) FILTER (WHERE kind = 'inquiry') AS last_inquiry,
       arg_max(activity_id, occurred_at) FILTER (WHERE kind = 'inquiry') AS last_inquiry_id,
       bool_or(kind = 'purchase') AS ever_purchased
FROM p_activity_party GROUP BY party_id, brand
