-- step: g_points_added
-- kind: table
-- parameters: compared (condition)
-- Associations of this build the last one did not have (the golden scope takes their contact points; the
-- commit inserts them). `compared`: as in g_owner_changes.
SELECT party_id, contact_point, contact_point_type FROM id_party_points WHERE {compared}
EXCEPT SELECT party_id, contact_point, contact_point_type FROM party_contact_points WHERE {compared}
