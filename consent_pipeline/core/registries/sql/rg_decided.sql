-- step: rg_decided
-- kind: table
-- parameters: share (number)
-- This round's decisions: a candidate is applied when it is the registry's first, was confirmed, or un-lists
-- at most the share of its baseline's numbers.
SELECT b.registry, b.delivery,
       b.baseline IS NULL OR b.confirmed OR coalesce(p.unlisted, 0) <= {share} * d.listed AS applied
FROM rg_baseline b
LEFT JOIN rg_pairs p ON p.registry = b.registry AND p.baseline = b.baseline AND p.candidate = b.delivery
LEFT JOIN rg_deliveries d ON d.registry = b.registry AND d.delivery = b.baseline
