-- step: g_points_gone
-- kind: table
-- parameters: none
-- Associations of the last build this one no longer has (the golden scope takes their contact points; the
-- commit deletes them).
SELECT party_id, contact_point, contact_point_type FROM party_contact_points
EXCEPT SELECT party_id, contact_point, contact_point_type FROM id_party_points
