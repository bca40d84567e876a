-- step: id_seen
-- kind: table
-- parameters: none
SELECT DISTINCT contact_point, contact_point_type FROM (
    SELECT contact_point, contact_point_type FROM consent_events WHERE contact_point IS NOT NULL
    UNION ALL SELECT email, 'email' FROM subject_profiles WHERE email IS NOT NULL
    UNION ALL SELECT phone, 'phone' FROM subject_profiles WHERE phone IS NOT NULL
    UNION ALL SELECT email, 'email' FROM activity WHERE email IS NOT NULL
    UNION ALL SELECT phone, 'phone' FROM activity WHERE phone IS NOT NULL
)
