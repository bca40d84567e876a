-- step: id_owner_customer
-- kind: table
-- parameters: none
-- Rules 1-4 as one ordering: the first candidate per contact point owns it. Rule 3 decides only when the
-- pool is one household and its primary holder is in it; parties of different households (each perhaps the
-- primary holder of its own) fall to rule 4: the most recent association, ties by smallest party id.
SELECT contact_point, contact_point_type, party_id, household_id,
       CASE WHEN proof_ts IS NOT NULL THEN 'proof_of_control'
            WHEN personal AND personal_holders = 1 THEN 'personal'
            WHEN in_pool AND one_household AND primary_holder THEN 'primary_holder'
            ELSE 'most_recent' END AS rule
FROM id_candidates
QUALIFY row_number() OVER (
    PARTITION BY contact_point
    ORDER BY proof_ts IS NOT NULL DESC, proof_ts DESC,
             (personal AND personal_holders = 1) DESC,
             in_pool DESC,
             (one_household AND primary_holder) DESC,
             last_seen DESC, party_id ASC
) = 1
