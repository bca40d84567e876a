-- step: id_owner_all
-- kind: table
-- parameters: points (condition)
-- (An incremental build.) The customer owners decided again for the touched contact points (`points`), and
-- the last build's for every other contact point a customer owned: nothing they are decided from changed.
SELECT contact_point, contact_point_type, party_id, household_id, rule FROM id_owner_customer
UNION ALL
SELECT contact_point, contact_point_type, party_id, household_id, rule FROM contact_point_owner
WHERE rule <> 'prospect' AND NOT ({points})
