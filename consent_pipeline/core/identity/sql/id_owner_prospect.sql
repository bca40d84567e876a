-- step: id_owner_prospect
-- kind: table
-- parameters: none
SELECT p.contact_point, p.contact_point_type,
       'P-' || substr(sha256(CASE WHEN p.contact_point_type = 'phone' AND e.email IS NOT NULL THEN e.email
                                  ELSE p.contact_point END), 1, 16) AS party_id,
       CAST(NULL AS VARCHAR) AS household_id, 'prospect' AS rule
FROM id_prospect_points p
LEFT JOIN id_phone_email e
    ON e.phone = p.contact_point
   AND e.email IN (SELECT contact_point FROM id_prospect_points WHERE contact_point_type = 'email')
