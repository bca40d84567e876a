-- step: g_new_events
-- kind: table
-- parameters: none
-- The events those files brought (contact point, party).
SELECT contact_point, party_id FROM consent_events WHERE source_file IN (SELECT source_file FROM g_new_files)
