-- step: p_keys
-- kind: view
-- parameters: party_scope (condition)
SELECT o.party_id, o.contact_point, o.contact_point_type, ch.channel, pu.leaf AS purpose, pu.kind AS purpose_kind,
       pb.brand, pa.region, pa.country, col.template_column,
       CASE WHEN pa.country IN (SELECT country FROM ref_override_countries) THEN pa.country ELSE ''
       END AS cell_country
FROM contact_point_owner o
JOIN parties pa ON pa.party_id = o.party_id
JOIN ref_channels ch ON ch.contact_point_type = o.contact_point_type
JOIN ref_columns col ON col.channel = ch.channel
JOIN (SELECT DISTINCT leaf, kind FROM ref_purposes) pu ON true
JOIN p_party_brands pb ON pb.party_id = o.party_id
WHERE {party_scope}
