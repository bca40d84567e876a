-- step: rg_save_pairs
-- kind: statement
-- parameters: none
-- Comparisons kept for the next run (see rg_pairs): each pair with both deliveries' listed counts.
CREATE OR REPLACE TABLE registry_comparisons AS
SELECT p.registry, p.baseline, p.candidate, b.listed AS baseline_listed, d.listed AS candidate_listed, p.unlisted
FROM rg_pairs p
JOIN rg_deliveries b ON b.registry = p.registry AND b.delivery = p.baseline
JOIN rg_deliveries d ON d.registry = p.registry AND d.delivery = p.candidate
