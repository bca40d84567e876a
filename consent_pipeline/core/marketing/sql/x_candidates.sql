-- step: x_candidates
-- kind: view
-- parameters: required_purposes (list), scope (condition)
-- (a view: read once, by x_suppression). `scope` limits every input to the contact points recomputed (an
-- incremental build: `contact_point IN (...)`), or is `true`.
SELECT r.contact_point, ch.channel, b.brand, p.leaf AS purpose, 'erased' AS reason, r.erased_at AS since, 1 AS rank
FROM (SELECT * FROM erasure_register WHERE {scope}) r
JOIN ref_channels ch ON ch.contact_point_type = r.contact_point_type
CROSS JOIN ref_brands b
JOIN ref_purposes p ON p.node = p.leaf AND p.kind = 'marketing'
WHERE r.reestablished_at IS NULL
UNION ALL
SELECT u.contact_point, ch.channel, b.brand, p.leaf, 'undeliverable', u.since_ts, 2
FROM (SELECT * FROM perm_undeliverable WHERE {scope}) u
JOIN (SELECT contact_point, min(contact_point_type) AS contact_point_type FROM undeliverable WHERE {scope}
      GROUP BY 1) t
    ON t.contact_point = u.contact_point
JOIN ref_channels ch ON ch.contact_point_type = t.contact_point_type
CROSS JOIN ref_brands b
JOIN ref_purposes p ON p.node = p.leaf AND p.kind = 'marketing'
UNION ALL
SELECT c.contact_point, c.channel, c.brand, c.purpose, 'opted_out', c.event_ts, 3
FROM (SELECT * FROM consent_current WHERE {scope}) c
WHERE c.status = 'opt_out' AND c.purpose NOT IN ({required_purposes})
UNION ALL
SELECT k.contact_point, k.channel, k.brand, k.purpose, 'dnc_registry', li.since, 4
FROM (SELECT * FROM contact_permission WHERE {scope}) k
JOIN perm_listed li ON li.contact_point = k.contact_point AND li.region = k.region
WHERE k.reason = 'dnc_registry'
