-- step: rg_deliveries
-- kind: table
-- parameters: as_of_delivery (text)
WITH whole AS (
    SELECT registry, delivery, min(received_ts) AS received_ts, count(*) AS whole_files
    FROM rg_files GROUP BY registry, delivery
), damaged AS (
    SELECT registry, delivery, count(DISTINCT source_file) AS damaged_files, min(reason) AS problem
    FROM rg_damaged GROUP BY registry, delivery
), listed AS (  -- one row per number (the identity of a listing is registry, delivery, number)
    SELECT registry, delivery, count(*) AS listed FROM registry_listings
    WHERE delivery <= {as_of_delivery} GROUP BY registry, delivery
), deliveries AS (
    SELECT registry, delivery FROM whole UNION SELECT registry, delivery FROM damaged
)
SELECT k.registry, k.delivery, w.received_ts, coalesce(w.whole_files, 0) AS whole_files,
       coalesce(d.damaged_files, 0) AS damaged_files, d.problem, coalesce(l.listed, 0) AS listed
FROM deliveries k
LEFT JOIN whole w ON w.registry = k.registry AND w.delivery = k.delivery
LEFT JOIN damaged d ON d.registry = k.registry AND d.delivery = k.delivery
LEFT JOIN listed l ON l.registry = k.registry AND l.delivery = k.delivery
