-- step: p_registry_status
-- kind: table
-- parameters: none
-- Whether each region's registries are fresh as of the run, from registry_status (core/registries/registries.py decides
-- which snapshot of each registry is in force and how old it is, once a run). A region is fresh when every
-- registry of it is: one never delivered counts as stale, unless the rules say the region does not need it
-- until it is first delivered (`required: false`; a delivery that was never applied, damaged say, counts).
SELECT region,
       min(CASE WHEN fresh OR (NOT required AND newest_delivery IS NULL) THEN 1 ELSE 0 END) = 1 AS fresh
FROM registry_status GROUP BY region
