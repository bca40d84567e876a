-- step: rg_candidates
-- kind: table
-- parameters: none
-- Deliveries that may replace the snapshot in force: whole and new.
SELECT d.registry, d.delivery, d.listed, c.delivery IS NOT NULL AS confirmed
FROM rg_deliveries d
LEFT JOIN rg_repeats r ON r.registry = d.registry AND r.delivery = d.delivery
LEFT JOIN (SELECT DISTINCT registry, delivery FROM registry_confirmations WHERE effective) c
    ON c.registry = d.registry AND c.delivery = d.delivery
WHERE d.damaged_files = 0 AND r.repeat_of IS NULL
