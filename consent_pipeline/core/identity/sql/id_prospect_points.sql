-- step: id_prospect_points
-- kind: table
-- parameters: owners (relation)
-- Contact points seen that no customer owns (`owners`: the customer owners of every contact point).
SELECT s.contact_point, s.contact_point_type FROM id_seen s
WHERE NOT EXISTS (SELECT 1 FROM {owners} o WHERE o.contact_point = s.contact_point)
