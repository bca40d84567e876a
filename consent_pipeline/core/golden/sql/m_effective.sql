-- step: m_effective
-- kind: view
-- parameters: effects (relation)
-- A pending is effective unless the key's last decision before it (opt_in / opt_out) is an opt_in. A lone
-- effect is always effective (a pending with no decision before it included).
-- (a view: read once, by the history)
SELECT * FROM (
    SELECT e.*,
           last_value(CASE WHEN e.status <> 'pending' THEN e.status END IGNORE NULLS) OVER (
               PARTITION BY contact_point, channel, purpose, brand ORDER BY event_ts, status_rank, priority DESC, event_id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS prior_decision
    FROM {effects} e JOIN m_multi_keys m USING (contact_point, channel, purpose, brand)
) WHERE status <> 'pending' OR prior_decision IS NULL OR prior_decision <> 'opt_in'
