-- step: id_owner
-- kind: table
-- parameters: owners (relation)
SELECT contact_point, contact_point_type, party_id, household_id, rule FROM {owners}
UNION ALL SELECT contact_point, contact_point_type, party_id, household_id, rule FROM id_owner_prospect
