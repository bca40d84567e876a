-- step: er_requests
-- kind: table
-- parameters: none
SELECT request_id, party_id, contact_point, contact_point_type, requested_at FROM erasure_requests
WHERE requested_at IS NOT NULL
