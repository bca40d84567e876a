-- step: a_optout_sla
-- kind: table
-- parameters: as_of (timestamp)
-- An opt-out whose deadline passed before this warehouse's first run cannot be judged by its extracts: it is
-- reported as `before_first_run`, not as a breach.
SELECT d.event_id, d.contact_point, d.source, d.region, d.event_ts, d.received_ts, h.honoured_at, d.deadline,
       CASE WHEN d.deadline < fr.first_as_of THEN false
            WHEN h.honoured_at IS NOT NULL THEN h.honoured_at > d.deadline
            WHEN d.keys_current = 0 THEN false
            ELSE {as_of} > d.deadline END AS breached,
       CASE WHEN d.deadline < fr.first_as_of THEN 'before_first_run'
            WHEN h.honoured_at IS NOT NULL THEN 'honoured'
            WHEN d.keys_current = 0 THEN 'superseded'
            ELSE 'pending' END AS state,
       date_diff('second', d.event_ts, d.received_ts) / 3600 AS source_lag_hours  -- a DOUBLE on both engines (3600.0 is a DECIMAL on Spark)
FROM a_deadlines d
CROSS JOIN (SELECT min(as_of) AS first_as_of FROM run_log) fr
LEFT JOIN optout_honoured h ON h.event_id = d.event_id AND h.contact_point = d.contact_point
