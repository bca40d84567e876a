-- step: id_owner
-- kind: table
-- parameters: none
SELECT contact_point, contact_point_type, party_id, household_id, rule FROM id_owner_customer
UNION ALL SELECT contact_point, contact_point_type, party_id, household_id, rule FROM id_owner_prospect
