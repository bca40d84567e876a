-- step: g_relinked
-- kind: table
-- parameters: none
-- A new link of a source system's party id (a Salesforce Individual) re-resolves the party of every event
-- naming it, old ones included: their contact points, and every party that id was ever linked to.
SELECT DISTINCT source_party_id FROM party_links WHERE source_file IN (SELECT source_file FROM g_new_files)
