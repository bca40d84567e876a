-- step: er_parties
-- kind: table
-- parameters: none
SELECT party_id, max(requested_at) AS erased_at FROM er_requests WHERE party_id IS NOT NULL GROUP BY party_id
