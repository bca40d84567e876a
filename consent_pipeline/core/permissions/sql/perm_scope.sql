-- step: perm_scope
-- kind: table
-- parameters: none
-- The parties whose permissions this run recomputes (for whatever reason).
SELECT DISTINCT party_id FROM perm_scope_why
