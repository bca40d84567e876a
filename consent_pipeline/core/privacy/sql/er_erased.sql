-- step: er_erased
-- kind: table
-- parameters: none
-- Erased contact points (as hex), the latest erasure of each, and the party it was erased for.
SELECT hex, max(contact_point_type) AS contact_point_type, max(requested_at) AS erased_at,
       arg_max(request_id, requested_at) AS request_id, arg_max(party_id, requested_at) AS party_id
FROM (
    SELECT CASE WHEN contact_point LIKE 'sha256:%' THEN substr(contact_point, 8) ELSE sha256(contact_point) END AS hex,
           contact_point_type, requested_at, request_id, party_id
    FROM er_requests WHERE contact_point IS NOT NULL
    UNION ALL
    SELECT CASE WHEN a.contact_point LIKE 'sha256:%' THEN substr(a.contact_point, 8) ELSE sha256(a.contact_point) END,
           a.contact_point_type, r.requested_at, r.request_id, r.party_id
    FROM er_requests r JOIN er_assoc a ON a.party_id = r.party_id AND a.seen_at <= r.requested_at
    WHERE r.party_id IS NOT NULL
) GROUP BY hex
