-- step: g_scope_parties
-- kind: table
-- parameters: none
-- The parties of the contact points in scope: their party-level events are read too.
SELECT DISTINCT party_id FROM (
    SELECT party_id FROM id_party_points WHERE contact_point IN (SELECT contact_point FROM g_scope)
    UNION ALL SELECT party_id FROM id_owner WHERE contact_point IN (SELECT contact_point FROM g_scope)
)
