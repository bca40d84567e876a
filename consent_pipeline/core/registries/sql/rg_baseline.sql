-- step: rg_baseline
-- kind: table
-- parameters: none
-- Each candidate's baseline: the latest candidate before it assumed applied in this round.
SELECT c.registry, c.delivery, c.listed, c.confirmed,
       max(CASE WHEN a.applied THEN c.delivery END) OVER (
           PARTITION BY c.registry ORDER BY c.delivery ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
       ) AS baseline
FROM rg_candidates c JOIN rg_applied a ON a.registry = c.registry AND a.delivery = c.delivery
