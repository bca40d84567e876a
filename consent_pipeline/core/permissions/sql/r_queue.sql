-- step: r_queue
-- kind: table
-- parameters: as_of (timestamp), interval_months (number)
SELECT p.party_id,
       CASE WHEN lr.last_reviewed_at IS NULL THEN 'never_reviewed' ELSE 'review_overdue' END AS reason,
       lr.last_reviewed_at
FROM parties p LEFT JOIN r_last_review lr ON lr.party_id = p.party_id
WHERE p.party_type = 'customer'
  AND (lr.last_reviewed_at IS NULL OR lr.last_reviewed_at < {as_of} - ({interval_months}) * INTERVAL 1 MONTH)
UNION ALL
SELECT DISTINCT o.party_id, 'free_text_revocation', lr.last_reviewed_at
FROM consent_events e
JOIN contact_point_owner o ON o.contact_point = e.contact_point
LEFT JOIN r_last_review lr ON lr.party_id = o.party_id
WHERE e.basis = 'revocation_free_text' AND e.event_ts <= {as_of}
  AND (lr.last_reviewed_at IS NULL OR lr.last_reviewed_at < e.event_ts)
