-- step: id_candidates
-- kind: table
-- parameters: none
-- The pool rules 3-4 choose from: the personal holders when any holds it personally (rule 2 prefers them),
-- else every holder; and whether the pool is one household (a party with no household is a household of its
-- own). min = max rather than count(DISTINCT) OVER, which Spark does not have.
WITH held AS (
    SELECT a.party_id, a.contact_point, a.contact_point_type, a.personal, a.last_seen, c.household_id,
           (c.is_primary_holder OR c.household_id IS NULL) AS primary_holder, p.proof_ts,
           coalesce('h:' || c.household_id, 'p:' || a.party_id) AS household_key,
           count(*) FILTER (WHERE a.personal) OVER (PARTITION BY a.contact_point) AS personal_holders
    FROM id_assoc a
    JOIN id_customers c ON c.party_id = a.party_id
    LEFT JOIN id_proofs p ON p.contact_point = a.contact_point AND p.party_id = a.party_id
), pooled AS (
    SELECT *, (personal OR personal_holders = 0) AS in_pool FROM held
)
SELECT party_id, contact_point, contact_point_type, personal, last_seen, household_id, primary_holder,
       proof_ts, personal_holders, in_pool,
       min(household_key) OVER (PARTITION BY contact_point, in_pool)
           = max(household_key) OVER (PARTITION BY contact_point, in_pool) AS one_household
FROM pooled
