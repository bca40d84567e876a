-- step: id_observed_assoc
-- kind: view
-- parameters: none
-- Every pair of a party and a contact point observed outside the customer master (consent events, subject
-- profiles, contact evidence), with the source time that tied them: identity's associations and erasure's
-- (what an erasure request reaches) both start from it.
SELECT party_id, contact_point, contact_point_type, event_ts AS seen_at FROM consent_events
    WHERE party_id IS NOT NULL AND contact_point IS NOT NULL
UNION ALL SELECT party_id, email, 'email', observed_ts FROM subject_profiles
    WHERE party_id IS NOT NULL AND email IS NOT NULL
UNION ALL SELECT party_id, phone, 'phone', observed_ts FROM subject_profiles
    WHERE party_id IS NOT NULL AND phone IS NOT NULL
UNION ALL SELECT party_id, contact_point, contact_point_type, evidence_ts FROM contact_evidence
    WHERE party_id IS NOT NULL AND contact_point IS NOT NULL
