-- step: perm_changed_points
-- kind: table
-- parameters: golden_seq (number), state_limits (condition)
-- Contact points whose permissions can have changed since the last run: golden changed them, a time
-- limit of their state fell between the two as-ofs (`state_limits`), or they were listed, un-listed, found
-- undeliverable or proven deliverable.
SELECT DISTINCT contact_point FROM (
    SELECT contact_point FROM golden_changes WHERE seq > {golden_seq}
    UNION ALL SELECT contact_point FROM consent_current WHERE {state_limits}
    UNION ALL SELECT contact_point FROM ((SELECT * FROM p_listed EXCEPT SELECT * FROM perm_listed) UNION ALL (SELECT * FROM perm_listed EXCEPT SELECT * FROM p_listed))
    UNION ALL SELECT contact_point FROM ((SELECT * FROM p_undeliverable EXCEPT SELECT * FROM perm_undeliverable) UNION ALL (SELECT * FROM perm_undeliverable EXCEPT SELECT * FROM p_undeliverable))
)
