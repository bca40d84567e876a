-- step: r_last_review
-- kind: table
-- parameters: as_of (timestamp)
SELECT coalesce(r.party_id, l.party_id) AS party_id, max(r.reviewed_at) AS last_reviewed_at
FROM reviews r
LEFT JOIN (SELECT source_party_id, party_id FROM party_links
           QUALIFY row_number() OVER (PARTITION BY source_party_id
                                      ORDER BY linked_at DESC NULLS LAST, row_id) = 1) l
    ON r.party_id IS NULL AND l.source_party_id = r.party_ref
WHERE r.reviewed_at <= {as_of}
GROUP BY 1
