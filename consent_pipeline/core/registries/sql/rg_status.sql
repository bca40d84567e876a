-- step: rg_status
-- kind: table
-- parameters: as_of (timestamp)
-- Per registry: the snapshot in force and whether it is fresh as of the run, and whether the registry is in
-- use (required by the rules, or delivered at least once): the one place freshness is decided. A registry
-- not in use never makes its region stale (permissions) nor counts in the run's figures.
SELECT r.registry, r.region, r.max_age_days, r.required, s.delivery, s.received_ts AS snapshot_ts,
       s.delivery IS NOT NULL AND s.received_ts >= {as_of} - (r.max_age_days) * INTERVAL 1 DAY AS fresh,
       n.newest_delivery, CAST(coalesce(n.pending, 0) AS BIGINT) AS pending,
       r.required OR n.newest_delivery IS NOT NULL AS in_use
FROM ref_registries r
LEFT JOIN rg_snapshot_status s ON s.registry = r.registry AND s.in_force
LEFT JOIN (
    SELECT registry, max(delivery) AS newest_delivery,
           sum(CASE WHEN pending THEN 1 ELSE 0 END) AS pending
    FROM rg_snapshot_status GROUP BY registry
) n ON n.registry = r.registry
