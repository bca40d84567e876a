-- step: m_events
-- kind: table
-- parameters: event_scope (condition)
SELECT e.*,
       CASE e.status WHEN 'opt_out' THEN 2 WHEN 'opt_in' THEN 1 ELSE 0 END AS status_rank,
       coalesce(sp.priority, '9999') AS priority,
       -- an event about a source's contact-point record names its party (the record's parent): its
       -- opt-ins wait for that party to be a known customer, and then reach only what it owns
       ((e.party_id IS NULL AND e.contact_point_ref IS NULL)
        OR EXISTS (SELECT 1 FROM id_customers c WHERE c.party_id = e.party_id)) AS party_known
FROM consent_events e LEFT JOIN ref_source_priority sp ON sp.source = e.source
WHERE {event_scope}
