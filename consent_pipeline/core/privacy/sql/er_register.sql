-- step: er_register
-- kind: table
-- parameters: none
SELECT 'sha256:' || x.hex AS contact_point, x.hex AS contact_point_sha256, x.contact_point_type, x.erased_at,
       x.request_id, x.party_id, r.reestablished_at
FROM er_erased x LEFT JOIN er_reestablished r ON r.hex = x.hex
