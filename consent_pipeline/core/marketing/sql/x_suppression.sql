-- step: x_suppression
-- kind: view
-- parameters: none
-- (a view: computed once, as it is written to the warehouse (`build_suppression`))
SELECT contact_point,  -- an erased one as `sha256:<hex>`, like every warehouse table (outputs.md)
       CASE WHEN contact_point LIKE 'sha256:%' THEN substr(contact_point, 8) ELSE sha256(contact_point) END
           AS contact_point_sha256,
       channel, brand, purpose, reason, since,
       contact_point AS key_contact_point
FROM x_candidates
QUALIFY row_number() OVER (PARTITION BY contact_point, channel, brand, purpose ORDER BY rank, since) = 1
