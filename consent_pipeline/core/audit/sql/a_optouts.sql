-- step: a_optouts
-- kind: table
-- parameters: as_of (timestamp), required_purposes (list), scope (condition)
-- One opt-out as it reached a contact point (a party-level opt-out reaches several). `scope`: every contact
-- point (`true`) or those an incremental audit recomputes (`contact_point IN (...)`).
SELECT f.event_id, f.contact_point, min(f.source) AS source, min(f.event_ts) AS event_ts,
       min(f.received_ts) AS received_ts, count(*) AS keys,
       count(*) FILTER (WHERE s.contact_point_sha256 IS NOT NULL) AS keys_suppressed,
       count(*) FILTER (WHERE c.event_id IS NOT NULL) AS keys_current,
       count(*) FILTER (WHERE c.event_id IS NOT NULL
           AND s.contact_point_sha256 IS NOT NULL) AS keys_current_suppressed
FROM (SELECT * FROM consent_effects WHERE {scope}) f
LEFT JOIN (SELECT * FROM x_suppression WHERE {scope}) s ON s.key_contact_point = f.contact_point AND s.channel = f.channel AND s.brand = f.brand
                          AND s.purpose = f.purpose
LEFT JOIN (SELECT * FROM consent_current WHERE {scope}) c ON c.contact_point = f.contact_point AND c.channel = f.channel AND c.brand = f.brand
                           AND c.purpose = f.purpose AND c.event_id = f.event_id
WHERE f.status = 'opt_out' AND f.received_ts <= {as_of}
  AND f.purpose NOT IN ({required_purposes})
GROUP BY f.event_id, f.contact_point
