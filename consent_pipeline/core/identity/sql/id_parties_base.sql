-- step: id_parties_base
-- kind: table
-- parameters: none
SELECT party_id, party_type, household_id, is_primary_holder, upper(country) AS country, first_name, last_name,
       brands, coalesce(mobile_phone, home_phone) AS phone
FROM id_customers
UNION ALL
SELECT DISTINCT o.party_id, 'prospect', CAST(NULL AS VARCHAR), true, upper(pp.country), pp.first_name,
       pp.last_name, CAST(NULL AS VARCHAR), ph.contact_point
FROM id_owner_prospect o
LEFT JOIN id_prospect_profile pp ON pp.party_id = o.party_id
LEFT JOIN (SELECT party_id, min(contact_point) AS contact_point FROM id_owner_prospect
           WHERE contact_point_type = 'phone' GROUP BY party_id) ph ON ph.party_id = o.party_id
