-- step: consent_as_of
-- kind: statement
-- parameters: none
-- Table macro for auditors: the state at a source time, from all that is known now (history).
CREATE OR REPLACE MACRO consent_as_of(ts) AS TABLE
SELECT contact_point, contact_point_type, channel, purpose, brand, status, basis, event_ts, received_ts, source,
       event_id
FROM consent_history
WHERE valid_from <= CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS TIMESTAMP)
  AND (valid_to IS NULL OR valid_to > CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS TIMESTAMP))
