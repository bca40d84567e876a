-- step: id_party_points
-- kind: table
-- parameters: pairs (relation)
-- Contact points associated with each party (a party-level opt-out reaches all of them, owned or not);
-- `pairs`: the customer associations of every contact point.
SELECT party_id, contact_point, contact_point_type FROM {pairs}
UNION SELECT party_id, contact_point, contact_point_type FROM id_owner_prospect
