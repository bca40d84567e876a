-- step: id_customers
-- kind: table
-- parameters: none
SELECT customer_id AS party_id, customer_type AS party_type, household_id,
       coalesce(is_primary_holder, false) AS is_primary_holder, first_name, last_name, email, mobile_phone,
       home_phone, postal_address, country, brands, created_at, updated_at
FROM customer_records
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC, received_ts DESC, row_id DESC) = 1
