-- step: g_erasure_changes
-- kind: table
-- parameters: none
-- Erased contact points (as hex) erased, re-established or forgotten since the last build.
SELECT contact_point_sha256 AS hex FROM
((SELECT contact_point_sha256, reestablished_at FROM erasure_register EXCEPT SELECT contact_point_sha256, reestablished_at FROM golden_erasures)
 UNION ALL
 (SELECT contact_point_sha256, reestablished_at FROM golden_erasures EXCEPT SELECT contact_point_sha256, reestablished_at FROM erasure_register))
