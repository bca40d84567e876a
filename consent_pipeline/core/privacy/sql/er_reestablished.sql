-- step: er_reestablished
-- kind: table
-- parameters: none
-- The first opt-in given by the contact point itself after its erasure re-establishes it (in the clear).
SELECT x.hex, min(e.event_ts) AS reestablished_at
FROM er_erased x JOIN event_log e ON sha256(e.contact_point) = x.hex
WHERE e.contact_point NOT LIKE 'sha256:%' AND e.status = 'opt_in' AND e.event_ts > x.erased_at
GROUP BY x.hex
