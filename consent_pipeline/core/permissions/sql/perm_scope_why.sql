-- step: perm_scope_why
-- kind: table
-- parameters: golden_seq (number), newly_due (condition), rel_rows (condition), rel_limits (condition)
-- Every party whose permissions can have changed, with why (logged): its contact points; its master record
-- (country, region, brands); a new activity row or event naming it or its walk-in contact point, or a source id
-- linked again (the golden build's golden_party_changes); activity dated between the two as-ofs (`newly_due`);
-- a relationship window that ends or begins between them (`rel_limits` on the latest purchase, contract and
-- inquiry of the activity the last build counted, looked for among the parties with any such activity in a
-- window, `rel_rows`); its region's registry freshness. Its activity and brands are then computed for these
-- parties only.
SELECT DISTINCT party_id, why FROM (
    SELECT party_id, 'contact point' AS why FROM contact_permission
        WHERE contact_point IN (SELECT contact_point FROM perm_changed_points)
    UNION ALL SELECT party_id, 'contact point' FROM contact_point_owner
        WHERE contact_point IN (SELECT contact_point FROM perm_changed_points)
    UNION ALL SELECT party_id, 'party' FROM ((SELECT * FROM (SELECT party_id, country, region, brands FROM parties) EXCEPT SELECT * FROM perm_parties) UNION ALL (SELECT * FROM perm_parties EXCEPT SELECT * FROM (SELECT party_id, country, region, brands FROM parties)))
    UNION ALL SELECT party_id, 'activity or events' FROM golden_party_changes WHERE seq > {golden_seq}
    UNION ALL SELECT coalesce(a.party_id, oe.party_id, op.party_id), 'activity now due'
        FROM (SELECT * FROM activity WHERE {newly_due}) a
        LEFT JOIN contact_point_owner oe ON a.party_id IS NULL AND oe.contact_point = a.email
        LEFT JOIN contact_point_owner op ON a.party_id IS NULL AND a.email IS NULL AND op.contact_point = a.phone
    UNION ALL SELECT party_id, 'relationship window' FROM (
        SELECT party_id, brand,
               max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase,
               max(occurred_at) FILTER (WHERE kind IN ('contract_start', 'contract_end')) AS last_contract,
               max(occurred_at) FILTER (WHERE kind = 'inquiry') AS last_inquiry
        FROM party_activity WHERE party_id IN (SELECT party_id FROM party_activity WHERE {rel_rows})
        GROUP BY party_id, brand
    ) WHERE {rel_limits}
    -- a registry turned fresh or stale (a new delivery alone changes only the listed points, above)
    UNION ALL SELECT p.party_id, 'registry' FROM parties p WHERE p.region IN (SELECT region FROM
        ((SELECT region, fresh FROM p_registry_status EXCEPT SELECT region, fresh FROM perm_registry_status) UNION ALL (SELECT region, fresh FROM perm_registry_status EXCEPT SELECT region, fresh FROM p_registry_status)))
) WHERE party_id IS NOT NULL
