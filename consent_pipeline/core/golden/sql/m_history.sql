-- step: m_history
-- kind: table
-- parameters: effects (relation)
SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts,
       source, event_id, party_id, valid_until, double_opt_in, source_file, source_record,
       event_ts AS valid_from,
       CAST(NULL AS TIMESTAMP) AS valid_to,
       received_ts AS recorded_at,
       CAST(NULL AS TIMESTAMP) AS valid_to_recorded_at,
       CAST(NULL AS VARCHAR) AS replaced_by
FROM (
    SELECT e.* FROM {effects} e
    LEFT JOIN m_multi_keys m
        ON m.contact_point = e.contact_point AND m.channel = e.channel AND m.purpose = e.purpose
       AND m.brand = e.brand
    WHERE m.contact_point IS NULL
)
UNION ALL
SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts,
       source, event_id, party_id, valid_until, double_opt_in, source_file, source_record,
       event_ts AS valid_from,
       lead(event_ts) OVER (PARTITION BY contact_point, channel, purpose, brand ORDER BY event_ts, status_rank, priority DESC, event_id DESC) AS valid_to,
       received_ts AS recorded_at,
       lead(received_ts) OVER (PARTITION BY contact_point, channel, purpose, brand ORDER BY event_ts, status_rank, priority DESC, event_id DESC) AS valid_to_recorded_at,
       lead(event_id) OVER (PARTITION BY contact_point, channel, purpose, brand ORDER BY event_ts, status_rank, priority DESC, event_id DESC) AS replaced_by
FROM m_effective
