-- step: perm_scope_why
-- kind: table
-- parameters: rel_limits (condition)
-- Every party whose permissions can have changed, with why (logged): its contact points, its region or
-- country, brands, activity, a relationship window that ended or began between the two as-ofs (`rel_limits`),
-- its region's registry freshness.
SELECT DISTINCT party_id, why FROM (
    SELECT party_id, 'contact point' AS why FROM contact_permission
        WHERE contact_point IN (SELECT contact_point FROM perm_changed_points)
    UNION ALL SELECT party_id, 'contact point' FROM contact_point_owner
        WHERE contact_point IN (SELECT contact_point FROM perm_changed_points)
    UNION ALL SELECT party_id, 'party' FROM ((SELECT * FROM (SELECT party_id, country, region FROM parties) EXCEPT SELECT * FROM perm_parties) UNION ALL (SELECT * FROM perm_parties EXCEPT SELECT * FROM (SELECT party_id, country, region FROM parties)))
    UNION ALL SELECT party_id, 'brands' FROM ((SELECT * FROM p_party_brands EXCEPT SELECT * FROM party_brands) UNION ALL (SELECT * FROM party_brands EXCEPT SELECT * FROM p_party_brands))
    UNION ALL SELECT party_id, 'activity' FROM ((SELECT * FROM p_activity_party EXCEPT SELECT * FROM party_activity) UNION ALL (SELECT * FROM party_activity EXCEPT SELECT * FROM p_activity_party))
    UNION ALL SELECT party_id, 'relationship window' FROM p_relationship WHERE {rel_limits}
    -- a registry turned fresh or stale (a new delivery alone changes only the listed points, above)
    UNION ALL SELECT p.party_id, 'registry' FROM parties p WHERE p.region IN (SELECT region FROM
        ((SELECT region, fresh FROM p_registry_status EXCEPT SELECT region, fresh FROM perm_registry_status) UNION ALL (SELECT region, fresh FROM perm_registry_status EXCEPT SELECT region, fresh FROM p_registry_status)))
) WHERE party_id IS NOT NULL
