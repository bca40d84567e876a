-- step: id_waiting
-- kind: table
-- parameters: none
-- Events that name a customer not seen yet (or a Salesforce Individual not linked yet, or a Salesforce
-- contact-point record not delivered yet): they wait.
SELECT e.event_id, e.source, e.party_id, e.party_ref, e.event_ts, e.received_ts
FROM consent_events e
WHERE (e.party_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM id_customers c WHERE c.party_id = e.party_id))
   OR (e.party_id IS NULL AND e.party_ref IS NOT NULL)
   OR (e.contact_point IS NULL AND e.contact_point_ref IS NOT NULL)
