-- step: g_scope
-- kind: table
-- parameters: erasure_changed (condition)
-- The contact points whose golden keys can have changed since the last build (golden_scope.py says why each
-- kind of change is here).
WITH new_customers AS (
    SELECT party_id FROM id_customers
    EXCEPT SELECT party_id FROM golden_customers
), touched_parties AS (
    SELECT party_id FROM g_new_events WHERE contact_point IS NULL AND party_id IS NOT NULL
    UNION SELECT party_id FROM new_customers
    UNION SELECT party_id FROM party_links WHERE source_party_id IN (SELECT source_party_id FROM g_relinked)
)
SELECT DISTINCT contact_point FROM (
    SELECT contact_point FROM g_new_events WHERE contact_point IS NOT NULL
    UNION ALL SELECT contact_point FROM consent_events
        WHERE contact_point IS NOT NULL AND party_id IN (SELECT party_id FROM new_customers)
    UNION ALL SELECT contact_point FROM consent_events
        WHERE contact_point IS NOT NULL AND party_ref IN (SELECT source_party_id FROM g_relinked)
    UNION ALL SELECT l.contact_point FROM contact_point_links l
        JOIN g_repointed r ON r.source = l.source AND r.source_point_id = l.source_point_id
    UNION ALL SELECT contact_point FROM id_party_points WHERE party_id IN (SELECT party_id FROM touched_parties)
    UNION ALL SELECT contact_point FROM id_owner WHERE party_id IN (SELECT party_id FROM touched_parties)
    UNION ALL SELECT contact_point FROM party_contact_points
        WHERE party_id IN (SELECT party_id FROM touched_parties)
    -- owner changed (or the contact point appeared / disappeared)
    UNION ALL SELECT contact_point FROM g_owner_changes WHERE party_changed
    -- associations added or gone
    UNION ALL SELECT contact_point FROM g_points_added
    UNION ALL SELECT contact_point FROM g_points_gone
    -- the clear form a changed erasure hides (or shows again): known to the old or the new owner table (looked
    -- for only when an erasure changed: `erasure_changed` is a constant, and hashing every owned point is not free)
    UNION ALL SELECT 'sha256:' || hex FROM g_erasure_changes
    UNION ALL SELECT contact_point FROM contact_point_owner
        WHERE {erasure_changed} AND contact_point NOT LIKE 'sha256:%'
          AND sha256(contact_point) IN (SELECT hex FROM g_erasure_changes)
    UNION ALL SELECT contact_point FROM id_owner
        WHERE {erasure_changed} AND contact_point NOT LIKE 'sha256:%'
          AND sha256(contact_point) IN (SELECT hex FROM g_erasure_changes)
) WHERE contact_point IS NOT NULL
