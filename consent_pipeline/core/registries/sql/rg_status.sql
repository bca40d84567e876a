-- step: rg_status
-- kind: table
-- parameters: as_of (timestamp)
SELECT r.registry, r.region, r.max_age_days, r.required, s.delivery, s.received_ts AS snapshot_ts,
       s.delivery IS NOT NULL AND s.received_ts >= {as_of} - (r.max_age_days) * INTERVAL 1 DAY AS fresh,
       n.newest_delivery, CAST(coalesce(n.pending, 0) AS BIGINT) AS pending
FROM ref_registries r
LEFT JOIN rg_snapshot_status s ON s.registry = r.registry AND s.in_force
LEFT JOIN (
    SELECT registry, max(delivery) AS newest_delivery,
           sum(CASE WHEN pending THEN 1 ELSE 0 END) AS pending
    FROM rg_snapshot_status GROUP BY registry
) n ON n.registry = r.registry
