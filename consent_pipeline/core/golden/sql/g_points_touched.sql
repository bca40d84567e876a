-- step: g_points_touched
-- kind: table
-- parameters: none
-- The contact points whose owner or associations can have changed since the last build: identity decides
-- only these again. Ownership is decided per contact point from its holders' associations, records and
-- proofs, so it can change only where a new row names the contact point (a master record's field, an event,
-- a subject profile, contact evidence, an activity), where a party whose master record changed (or who became
-- a customer) holds or held it, or where a new link resolves an event's party or contact point again.
WITH changed_customers AS (
    SELECT DISTINCT customer_id AS party_id FROM customer_records
    WHERE source_file IN (SELECT source_file FROM g_new_files)
)
SELECT DISTINCT contact_point FROM (
    SELECT email AS contact_point FROM customer_records WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT mobile_phone FROM customer_records WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT home_phone FROM customer_records WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT postal_address FROM customer_records WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT contact_point FROM g_new_events
    UNION ALL SELECT email FROM subject_profiles WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT phone FROM subject_profiles WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT contact_point FROM contact_evidence WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT email FROM activity WHERE source_file IN (SELECT source_file FROM g_new_files)
    UNION ALL SELECT phone FROM activity WHERE source_file IN (SELECT source_file FROM g_new_files)
    -- every association a changed customer had at the last build, or has in any row now
    UNION ALL SELECT contact_point FROM party_contact_points
        WHERE party_id IN (SELECT party_id FROM changed_customers)
    UNION ALL SELECT contact_point FROM consent_events WHERE party_id IN (SELECT party_id FROM changed_customers)
    UNION ALL SELECT email FROM subject_profiles WHERE party_id IN (SELECT party_id FROM changed_customers)
    UNION ALL SELECT phone FROM subject_profiles WHERE party_id IN (SELECT party_id FROM changed_customers)
    UNION ALL SELECT contact_point FROM contact_evidence WHERE party_id IN (SELECT party_id FROM changed_customers)
    UNION ALL SELECT email FROM activity WHERE party_id IN (SELECT party_id FROM changed_customers)
    UNION ALL SELECT phone FROM activity WHERE party_id IN (SELECT party_id FROM changed_customers)
    -- events whose party or contact point a new link resolves again
    UNION ALL SELECT contact_point FROM consent_events WHERE party_ref IN (SELECT source_party_id FROM g_relinked)
    UNION ALL SELECT l.contact_point FROM contact_point_links l
        JOIN g_repointed r ON r.source = l.source AND r.source_point_id = l.source_point_id
) WHERE contact_point IS NOT NULL
