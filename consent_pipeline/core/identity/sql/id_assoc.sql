-- step: id_assoc
-- kind: table
-- parameters: none
SELECT a.party_id, a.contact_point, min(a.contact_point_type) AS contact_point_type,
       bool_or(a.tier = 'personal') AS personal, max(a.seen_at) AS last_seen
FROM id_assoc_raw a JOIN id_customers c ON c.party_id = a.party_id
GROUP BY a.party_id, a.contact_point
