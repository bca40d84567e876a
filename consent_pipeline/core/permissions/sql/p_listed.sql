-- step: p_listed
-- kind: table
-- parameters: none
-- The numbers on a snapshot in force, one row per number and region (a number on two registries of a region,
-- TPS and Corporate TPS, names the first registry), with the time of the snapshot that lists it.
SELECT contact_point, region, registry, delivery, since FROM (
    SELECT l.contact_point, s.region, s.registry, s.delivery, s.snapshot_ts AS since
    FROM registry_listings l JOIN registry_status s ON s.registry = l.registry AND s.delivery = l.delivery
) x
QUALIFY row_number() OVER (PARTITION BY contact_point, region ORDER BY registry) = 1
