-- step: id_phone_email
-- kind: table
-- parameters: none
-- A phone seen (without a customer) together with an email joins that email's prospect.
SELECT phone, email FROM subject_profiles
WHERE party_id IS NULL AND phone IS NOT NULL AND email IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY phone ORDER BY observed_ts DESC, email) = 1
