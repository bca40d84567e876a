-- step: rg_pairs
-- kind: table
-- parameters: none
-- Comparisons of earlier runs, kept where both deliveries still list as many numbers as then: a delivery that
-- can be compared was read whole, and its listings do not change after (erasure replaces a number by its hash
-- in every delivery alike), so a pair is counted once, not every night.
SELECT c.registry, c.baseline, c.candidate, c.unlisted
FROM registry_comparisons c
JOIN rg_deliveries b ON b.registry = c.registry AND b.delivery = c.baseline AND b.listed = c.baseline_listed
JOIN rg_deliveries d ON d.registry = c.registry AND d.delivery = c.candidate AND d.listed = c.candidate_listed
