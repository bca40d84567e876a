-- step: m_current
-- kind: table
-- parameters: history (relation)
-- The open version of each key's history is its current state: the last in the same total order (no second
-- sort of every event).
SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts, source,
       event_id, party_id, valid_until, double_opt_in, source_file, source_record
FROM {history}
WHERE replaced_by IS NULL
