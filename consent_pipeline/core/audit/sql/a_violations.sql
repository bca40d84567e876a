-- step: a_violations
-- kind: table
-- parameters: as_of (timestamp), scope (condition)
-- A marketing send while the key's state was an opt-out whose deadline had passed, or after an erasure's
-- deadline.
SELECT s.send_id, s.contact_point, s.channel, s.brand, s.purpose, s.sent_at, 'opted_out' AS reason,
       h.event_id AS opt_out_event_id, d.deadline
FROM (SELECT * FROM sends WHERE {scope}) s
JOIN ref_purposes rp ON rp.node = s.purpose AND rp.leaf = s.purpose AND rp.kind = 'marketing'
JOIN consent_history h ON h.contact_point = s.contact_point AND h.channel = s.channel AND h.brand = s.brand
     AND h.purpose = s.purpose AND h.status = 'opt_out'
     AND h.valid_from <= s.sent_at AND (h.valid_to IS NULL OR h.valid_to > s.sent_at)
JOIN a_deadlines d ON d.event_id = h.event_id AND d.contact_point = h.contact_point
WHERE d.deadline <= s.sent_at AND s.sent_at <= {as_of}
UNION ALL
SELECT * FROM (
SELECT s.send_id, s.contact_point, s.channel, s.brand, s.purpose, s.sent_at, 'erased' AS reason,
       r.request_id AS opt_out_event_id,
       CASE WHEN sla.kind = 'business_days'
            THEN CAST(cal.due AS TIMESTAMP) + (r.erased_at - CAST(CAST(r.erased_at AS DATE) AS TIMESTAMP))
            ELSE r.erased_at + (sla.n) * INTERVAL 1 DAY END AS deadline
FROM (SELECT * FROM sends WHERE {scope}) s
JOIN ref_purposes rp ON rp.node = s.purpose AND rp.leaf = s.purpose AND rp.kind = 'marketing'
JOIN erasure_register r ON r.contact_point = s.contact_point
CROSS JOIN ref_fallback f
LEFT JOIN a_region rg ON rg.contact_point = r.contact_point
JOIN ref_sla sla ON sla.region = coalesce(rg.region, f.region)
LEFT JOIN ref_business_days cal ON sla.kind = 'business_days' AND cal.day = CAST(r.erased_at AS DATE)
    AND cal.n = sla.n
WHERE s.sent_at > r.erased_at AND s.sent_at <= {as_of}
) erased_sends WHERE deadline <= sent_at  -- like an opt-out: a violation once the erasure is due
