-- step: a_deadlines
-- kind: table
-- parameters: none
SELECT o.*, coalesce(r.region, f.region) AS region,
       CASE WHEN sla.kind = 'business_days'
            THEN CAST(cal.due AS TIMESTAMP) + (o.event_ts - CAST(CAST(o.event_ts AS DATE) AS TIMESTAMP))
            ELSE o.event_ts + (sla.n) * INTERVAL 1 DAY END AS deadline
FROM a_optouts o
CROSS JOIN ref_fallback f
LEFT JOIN a_region r ON r.contact_point = o.contact_point
JOIN ref_sla sla ON sla.region = coalesce(r.region, f.region)
LEFT JOIN ref_business_days cal ON sla.kind = 'business_days' AND cal.day = CAST(o.event_ts AS DATE)
    AND cal.n = sla.n
