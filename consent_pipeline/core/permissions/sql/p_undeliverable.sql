-- step: p_undeliverable
-- kind: table
-- parameters: as_of (timestamp)
-- Undeliverable unless something later proved the contact point works.
SELECT u.contact_point, u.since_ts, u.row_id
FROM (SELECT contact_point, since_ts, row_id FROM undeliverable WHERE since_ts <= {as_of}
      QUALIFY row_number() OVER (PARTITION BY contact_point ORDER BY since_ts DESC, row_id) = 1) u
WHERE NOT EXISTS (
    SELECT 1 FROM contact_evidence e
    WHERE e.contact_point = u.contact_point AND e.kind IN ('double_opt_in', 'inbound_message')
      AND e.evidence_ts > u.since_ts AND e.evidence_ts <= {as_of}
)
