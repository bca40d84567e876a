-- step: g_repointed
-- kind: table
-- parameters: none
-- A new link of a source's contact-point record resolves (or moves) the events naming it, old ones included.
SELECT DISTINCT source, source_point_id FROM contact_point_links
WHERE source_file IN (SELECT source_file FROM g_new_files)
