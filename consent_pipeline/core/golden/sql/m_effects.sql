-- step: m_effects
-- kind: table
-- parameters: none
-- Scope expansion: `*` channel -> every channel of the contact point's type, a purpose node -> its leaves,
-- `*` brand -> every brand.
SELECT t.target AS contact_point, t.target_type AS contact_point_type, ch.channel, p.leaf AS purpose, b.brand,
       e.status, e.basis, e.event_ts, e.received_ts, e.source, e.event_id, e.party_id, e.valid_until,
       e.double_opt_in, e.source_file, e.source_record, e.status_rank, e.priority
FROM m_targets t
JOIN m_events e ON e.event_id = t.event_id
JOIN ref_channels ch ON ch.contact_point_type = t.target_type AND (e.channel = '*' OR e.channel = ch.channel)
JOIN ref_purposes p ON p.node = e.purpose
JOIN ref_brands b ON e.brand = '*' OR e.brand = b.brand
