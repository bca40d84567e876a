-- step: id_pairs_all
-- kind: table
-- parameters: points (condition)
-- (An incremental build.) The customer associations found again for the touched contact points (`points`),
-- and the last build's for every other contact point a customer owned (a contact point a prospect owned has
-- no customer association: its pair is the prospect's, decided again every run).
SELECT party_id, contact_point, contact_point_type FROM id_assoc
UNION ALL
SELECT p.party_id, p.contact_point, p.contact_point_type FROM party_contact_points p
WHERE NOT ({points})
  AND NOT EXISTS (SELECT 1 FROM contact_point_owner o WHERE o.contact_point = p.contact_point AND o.rule = 'prospect')
