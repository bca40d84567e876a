-- step: a_region
-- kind: table
-- parameters: none
SELECT o.contact_point, coalesce(p.region, f.region) AS region
FROM contact_point_owner o LEFT JOIN parties p ON p.party_id = o.party_id CROSS JOIN ref_fallback f
