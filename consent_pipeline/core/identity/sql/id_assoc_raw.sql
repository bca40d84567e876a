-- step: id_assoc_raw
-- kind: view
-- parameters: points (condition)
-- Every pair of a known customer and a contact point, with how it is held: master fields are tiered
-- (personal email/mobile, shared home phone, the household's address), anything else is 'associated'.
-- `points`: the contact points decided again (every one, or those an incremental build touched).
SELECT * FROM (
    SELECT party_id, email AS contact_point, 'email' AS contact_point_type, 'personal' AS tier,
           updated_at AS seen_at
    FROM id_customers WHERE email IS NOT NULL
    UNION ALL SELECT party_id, mobile_phone, 'phone', 'personal', updated_at FROM id_customers
        WHERE mobile_phone IS NOT NULL
    UNION ALL SELECT party_id, home_phone, 'phone', 'shared', updated_at FROM id_customers
        WHERE home_phone IS NOT NULL
    UNION ALL SELECT party_id, postal_address, 'postal', 'postal', updated_at FROM id_customers
        WHERE postal_address IS NOT NULL
    UNION ALL SELECT party_id, contact_point, contact_point_type, 'associated', seen_at FROM id_observed_assoc
    UNION ALL SELECT party_id, email, 'email', 'associated', occurred_at FROM activity
        WHERE party_id IS NOT NULL AND email IS NOT NULL
    UNION ALL SELECT party_id, phone, 'phone', 'associated', occurred_at FROM activity
        WHERE party_id IS NOT NULL AND phone IS NOT NULL
) WHERE {points}
