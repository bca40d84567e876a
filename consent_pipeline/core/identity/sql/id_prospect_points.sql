-- step: id_prospect_points
-- kind: table
-- parameters: none
SELECT s.contact_point, s.contact_point_type FROM id_seen s
WHERE NOT EXISTS (SELECT 1 FROM id_owner_customer o WHERE o.contact_point = s.contact_point)
