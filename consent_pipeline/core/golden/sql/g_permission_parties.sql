-- step: g_permission_parties
-- kind: table
-- parameters: none
-- The parties whose party-level permission inputs (their activity, the brands their events name) a new file or
-- link can have changed: named by a new activity row or event, owning a new walk-in activity's email or phone,
-- ever linked to a source id linked again, or the last build's owner of a contact point whose owner changed (its
-- walk-in activity and the brands of events there go to the new owner). Read by the permissions stage
-- (golden_party_changes), which finds the current owners of the contact points in scope by itself.
SELECT DISTINCT party_id FROM (
    SELECT party_id FROM activity WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT o.party_id FROM activity a JOIN id_owner o ON o.contact_point = a.email
        WHERE a.party_id IS NULL AND a.source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT o.party_id FROM activity a JOIN id_owner o ON o.contact_point = a.phone
        WHERE a.party_id IS NULL AND a.source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT party_id FROM g_new_events
    UNION ALL SELECT party_id FROM party_links WHERE source_party_id IN (SELECT source_party_id FROM g_relinked)
    UNION ALL SELECT party_id FROM contact_point_owner
        WHERE contact_point IN (SELECT contact_point FROM g_owner_changes WHERE party_changed)
) WHERE party_id IS NOT NULL
