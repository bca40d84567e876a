-- step: id_party_points
-- kind: table
-- parameters: pairs (relation)
-- Contact points associated with each party (a party-level opt-out reaches all of them, owned or not);
-- `pairs`: the customer associations of every contact point. UNION ALL, not UNION (which costs a hash of every
-- pair, 0.7 s at scale 10): each part holds a pair once (id_assoc groups by party and contact point; the last
-- build's pairs kept for untouched contact points were written once; a prospect owns each of its points once),
-- and they share no contact point (one a customer holds has a customer owner, so it is no prospect's).
SELECT party_id, contact_point, contact_point_type FROM {pairs}
UNION ALL SELECT party_id, contact_point, contact_point_type FROM id_owner_prospect
