-- step: g_compared
-- kind: table
-- parameters: touched (relation)
-- (Identity decided for the touched contact points only.) The contact points whose owner and association rows
-- can differ from the last build's: the touched ones, and those a prospect owns now or owned then (prospects are
-- decided again every build). Every other contact point's rows are the last build's, copied (id_owner_all,
-- id_pairs_all), so the comparisons after identity look at these only.
SELECT contact_point FROM {touched}
UNION SELECT contact_point FROM id_owner_prospect
UNION SELECT contact_point FROM contact_point_owner WHERE rule = 'prospect'
