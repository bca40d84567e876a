-- step: p_registry_status
-- kind: table
-- parameters: none
-- Whether each region's registries are fresh as of the run, from registry_status (the registries stage decides
-- which snapshot of each registry is in force, whether it is fresh and whether the registry is in use, once a
-- run). A region is fresh when every registry of it in use is: one never delivered counts as stale, unless
-- the rules say the region does not need it until it is first delivered (`required: false`; a delivery that
-- was never applied, damaged say, counts).
SELECT region,
       min(CASE WHEN fresh OR NOT in_use THEN 1 ELSE 0 END) = 1 AS fresh
FROM registry_status GROUP BY region
