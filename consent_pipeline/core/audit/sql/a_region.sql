-- step: a_region
-- kind: table
-- parameters: scope (condition)
SELECT o.contact_point, coalesce(p.region, f.region) AS region
FROM (SELECT * FROM contact_point_owner WHERE {scope}) o LEFT JOIN parties p ON p.party_id = o.party_id CROSS JOIN ref_fallback f
