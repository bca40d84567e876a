-- step: m_multi_keys
-- kind: table
-- parameters: effects (relation)
-- Most keys have a single effect (at scale 10: 10.4M keys, 1.35M with more than one): those need no window
-- at all, so the two windows below (effective pendings, then the history's lead) sort only the rest.
SELECT contact_point, channel, purpose, brand FROM {effects} GROUP BY contact_point, channel, purpose, brand HAVING count(*) > 1
