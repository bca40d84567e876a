-- step: p_activity_party
-- kind: table
-- parameters: as_of (timestamp), activity_rows (condition), activity_party (condition)
-- Activity attributed to a party: named by the record, or the owner of the walk-in's email/phone. Scoped, the
-- rows of the parties in perm_scope only (`activity_rows` keeps the rows that can be theirs, `activity_party`
-- those that are).
SELECT a.row_id AS activity_row, a.activity_id, coalesce(a.party_id, oe.party_id, op.party_id) AS party_id,
       a.brand, a.kind, a.occurred_at, a.amount, a.currency
FROM (SELECT * FROM activity WHERE {activity_rows}) a
LEFT JOIN contact_point_owner oe ON a.party_id IS NULL AND oe.contact_point = a.email
LEFT JOIN contact_point_owner op ON a.party_id IS NULL AND a.email IS NULL AND op.contact_point = a.phone
WHERE coalesce(a.party_id, oe.party_id, op.party_id) IS NOT NULL AND a.occurred_at <= {as_of} AND {activity_party}
