-- step: m_targets
-- kind: table
-- parameters: target_scope (condition)
-- Which contact points an event reaches (semantics §3): opt-outs from anyone; opt-ins only from the owner.
SELECT * FROM (
SELECT e.event_id, e.contact_point AS target, e.contact_point_type AS target_type
FROM m_events e LEFT JOIN id_owner o ON o.contact_point = e.contact_point
WHERE e.contact_point IS NOT NULL
  AND (e.status = 'opt_out' OR (e.party_known AND (e.party_id IS NULL OR o.party_id = e.party_id)))
UNION ALL
SELECT e.event_id, a.contact_point, a.contact_point_type
FROM m_events e JOIN id_party_points a ON a.party_id = e.party_id
WHERE e.contact_point IS NULL AND e.status = 'opt_out'
  AND (e.contact_point_type IS NULL OR e.contact_point_type = a.contact_point_type)
UNION ALL
SELECT e.event_id, o.contact_point, o.contact_point_type
FROM m_events e JOIN id_owner o ON o.party_id = e.party_id
WHERE e.contact_point IS NULL AND e.status <> 'opt_out' AND e.party_known
  AND (e.contact_point_type IS NULL OR e.contact_point_type = o.contact_point_type)
) WHERE {target_scope}
