-- step: rg_damaged
-- kind: table
-- parameters: as_of_delivery (text), not_damage (list), source (text), until_read (list)
-- Files in a registry's folder quarantined as files.
SELECT DISTINCT r.registry, q.delivery, q.source_file, q.reason
FROM quarantine q JOIN ref_registries r ON r.registry = split_part(q.source_file, '/', 3)
WHERE q.source = {source} AND q.source_record IS NULL AND q.delivery <= {as_of_delivery}
  AND q.reason NOT IN ({not_damage})
  AND NOT (q.reason IN ({until_read}) AND q.source_file IN (SELECT source_file FROM registry_snapshots))
