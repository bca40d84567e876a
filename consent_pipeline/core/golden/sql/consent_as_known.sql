-- step: consent_as_known
-- kind: statement
-- parameters: none
-- Table macro for auditors: the state at a source time from only what had been received by
-- `known_at` (recomputed from the projected events).
CREATE OR REPLACE MACRO consent_as_known(ts, known_at) AS TABLE
WITH known AS (
    SELECT * FROM consent_effects
    WHERE event_ts <= CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS TIMESTAMP)
      AND received_ts <= CAST(timezone('UTC', CAST(known_at AS TIMESTAMPTZ)) AS TIMESTAMP)
), ordered AS (
    SELECT *, last_value(CASE WHEN status <> 'pending' THEN status END IGNORE NULLS) OVER (
               PARTITION BY contact_point, channel, purpose, brand ORDER BY event_ts, status_rank, priority DESC, event_id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS prior_decision
    FROM known
)
SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts, source,
       event_id
FROM ordered
WHERE status <> 'pending' OR prior_decision IS NULL OR prior_decision <> 'opt_in'
QUALIFY row_number() OVER (PARTITION BY contact_point, channel, purpose, brand ORDER BY event_ts DESC, status_rank DESC, priority ASC, event_id ASC) = 1
