-- step: p_party_brands
-- kind: table
-- parameters: none
-- Brands each party has a relationship with: the master's brands, and any event, transaction or receipt.
SELECT DISTINCT party_id, brand FROM (
    SELECT c.party_id, trim(b.brand) AS brand
    FROM parties c, unnest(string_split(coalesce(c.brands, ''), ';')) AS b(brand)
    UNION ALL SELECT party_id, brand FROM consent_events WHERE party_id IS NOT NULL AND brand <> '*'
    UNION ALL SELECT o.party_id, e.brand
        FROM consent_events e JOIN contact_point_owner o ON o.contact_point = e.contact_point
        WHERE e.party_id IS NULL AND e.brand <> '*'
    UNION ALL SELECT party_id, brand FROM p_activity_party
) x
WHERE brand IN (SELECT brand FROM ref_brands)
