-- step: rg_files
-- kind: table
-- parameters: as_of_delivery (text), source (text)
-- Files of each registry read whole, with their names inside the registry's folder.
SELECT s.registry, s.delivery, s.received_ts, s.source_file, s.file_sha256,
       substr(s.source_file, length({source} || '/' || s.delivery || '/' || s.registry || '/') + 1) AS name
FROM registry_snapshots s JOIN ref_registries r ON r.registry = s.registry
WHERE s.delivery <= {as_of_delivery}
