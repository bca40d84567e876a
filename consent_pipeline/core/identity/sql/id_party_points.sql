-- step: id_party_points
-- kind: table
-- parameters: none
-- Contact points associated with each party (a party-level opt-out reaches all of them, owned or not).
SELECT party_id, contact_point, contact_point_type FROM id_assoc
UNION SELECT party_id, contact_point, contact_point_type FROM id_owner_prospect
