-- step: id_proofs
-- kind: table
-- parameters: none
SELECT e.contact_point, e.party_id, max(e.evidence_ts) AS proof_ts
FROM contact_evidence e JOIN id_customers c ON c.party_id = e.party_id
WHERE e.kind IN ('double_opt_in', 'account_login') AND e.contact_point IS NOT NULL
GROUP BY e.contact_point, e.party_id
