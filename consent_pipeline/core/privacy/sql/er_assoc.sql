-- step: er_assoc
-- kind: view
-- parameters: none
-- Everything that ties a contact point to a customer, with the source time it did so: every version of the
-- master record (an erased customer's earlier addresses too), and what identity observes elsewhere.
SELECT customer_id AS party_id, email AS contact_point, 'email' AS contact_point_type, updated_at AS seen_at
FROM customer_records WHERE email IS NOT NULL
UNION ALL SELECT customer_id, mobile_phone, 'phone', updated_at FROM customer_records WHERE mobile_phone IS NOT NULL
UNION ALL SELECT customer_id, home_phone, 'phone', updated_at FROM customer_records WHERE home_phone IS NOT NULL
UNION ALL SELECT customer_id, postal_address, 'postal', updated_at FROM customer_records
    WHERE postal_address IS NOT NULL
UNION ALL SELECT party_id, contact_point, contact_point_type, seen_at FROM id_observed_assoc
