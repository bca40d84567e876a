-- step: id_prospect_profile
-- kind: table
-- parameters: none
SELECT party_id, country, first_name, last_name FROM (
    -- two equi-joins rather than one join on (email OR phone), which would be a nested loop
    SELECT o.party_id, s.country, s.first_name, s.last_name, s.observed_ts, s.row_id
    FROM id_owner_prospect o JOIN subject_profiles s ON s.party_id IS NULL AND s.email = o.contact_point
    UNION ALL
    SELECT o.party_id, s.country, s.first_name, s.last_name, s.observed_ts, s.row_id
    FROM id_owner_prospect o JOIN subject_profiles s ON s.party_id IS NULL AND s.phone = o.contact_point
)
QUALIFY row_number() OVER (PARTITION BY party_id ORDER BY country IS NULL, observed_ts DESC, row_id) = 1
