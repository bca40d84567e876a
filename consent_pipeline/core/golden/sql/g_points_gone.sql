-- step: g_points_gone
-- kind: table
-- parameters: compared (condition)
-- Associations of the last build this one no longer has (the golden scope takes their contact points; the
-- commit deletes them). `compared`: as in g_owner_changes.
SELECT party_id, contact_point, contact_point_type FROM party_contact_points WHERE {compared}
EXCEPT SELECT party_id, contact_point, contact_point_type FROM id_party_points WHERE {compared}
