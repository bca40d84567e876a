-- step: p_party_brands
-- kind: table
-- parameters: scope_parties (condition)
-- Brands each party has a relationship with: the master's brands, and any event, transaction or receipt.
-- Scoped, those of the parties in perm_scope only.
SELECT DISTINCT party_id, brand FROM (
    SELECT c.party_id, trim(b.brand) AS brand
    FROM (SELECT party_id, brands FROM parties WHERE {scope_parties}) c,
         unnest(string_split(coalesce(c.brands, ''), ';')) AS b(brand)
    UNION ALL SELECT party_id, brand FROM consent_events
        WHERE party_id IS NOT NULL AND brand <> '*' AND {scope_parties}
    UNION ALL SELECT o.party_id, e.brand
        FROM consent_events e JOIN (SELECT * FROM contact_point_owner WHERE {scope_parties}) o
            ON o.contact_point = e.contact_point
        WHERE e.party_id IS NULL AND e.brand <> '*'
    UNION ALL SELECT party_id, brand FROM p_activity_party
) x
WHERE brand IN (SELECT brand FROM ref_brands)
