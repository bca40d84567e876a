-- step: id_parties
-- kind: table
-- parameters: none
-- Region from the country; with no country, from the phone's country (which then is the party's country, so
-- that country overrides such as DE's double opt-in apply too); else the fallback region.
SELECT b.party_id, b.party_type, b.household_id, b.is_primary_holder, coalesce(b.country, pc.country) AS country,
       coalesce(r.region, CASE WHEN b.country IS NULL THEN pr.region END, f.region) AS region,
       b.first_name, b.last_name, b.brands
FROM id_parties_base b
CROSS JOIN ref_fallback f
LEFT JOIN ref_regions r ON r.country = b.country
LEFT JOIN id_phone_country pc ON b.country IS NULL AND pc.phone = b.phone
LEFT JOIN ref_regions pr ON pr.country = pc.country
