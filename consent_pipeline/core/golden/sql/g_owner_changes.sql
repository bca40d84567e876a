-- step: g_owner_changes
-- kind: table
-- parameters: compared (condition)
-- Contact points whose owner rows differ from the last build's in any column (or appeared, or went), and
-- whether the owning party is what changed: the golden scope takes those, and the commit replaces the owner
-- rows of all of them instead of rewriting the whole table. `compared`: the contact points whose rows can differ
-- (every one, or g_compared's).
SELECT coalesce(n.contact_point, o.contact_point) AS contact_point,
       bool_or(n.party_id IS DISTINCT FROM o.party_id) AS party_changed
FROM (SELECT * FROM id_owner WHERE {compared}) n
FULL JOIN (SELECT * FROM contact_point_owner WHERE {compared}) o ON o.contact_point = n.contact_point
WHERE n.party_id IS DISTINCT FROM o.party_id
   OR n.contact_point_type IS DISTINCT FROM o.contact_point_type
   OR n.household_id IS DISTINCT FROM o.household_id
   OR n.rule IS DISTINCT FROM o.rule
GROUP BY coalesce(n.contact_point, o.contact_point)
