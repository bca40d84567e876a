-- step: p_bases
-- kind: view
-- parameters: as_of (timestamp), express_bases (list), implied_contract (number), implied_inquiry (number), implied_purchase (number), inferred_purchase (number), third_party_days (number)
-- Which bases hold for each key as of the run (and until when).
SELECT f.*,
    -- an opt-in on file whose stated validity has not run out
    (status = 'opt_in' AND (state_valid_until IS NULL OR state_valid_until > {as_of})) AS optin_valid,
    status = 'opt_in' AND basis IN ({express_bases})
        AND (NOT coalesce(written_only, false) OR basis = 'express')
        AND (NOT coalesce(cell_doi, false) OR state_doi)
        AND (state_valid_until IS NULL OR state_valid_until > {as_of}) AS has_express,
    status = 'opt_in' AND basis = 'third_party'
        AND (NOT coalesce(cell_doi, false) OR state_doi)
        AND state_ts + ({third_party_days}) * INTERVAL 1 DAY > {as_of}
        AND (state_valid_until IS NULL OR state_valid_until > {as_of}) AS has_third_party,
    status = 'opt_in' AND basis = 'legitimate_interest' AS has_legitimate_interest,
    ever_purchased AS has_soft_opt_in,
    -- windows as "event + N months >= as-of": the same sum as valid_until (month ends stay consistent)
    (last_purchase + ({implied_purchase}) * INTERVAL 1 MONTH >= {as_of})
        OR (last_contract + ({implied_contract}) * INTERVAL 1 MONTH >= {as_of})
        OR (last_inquiry + ({implied_inquiry}) * INTERVAL 1 MONTH >= {as_of}) AS has_implied,
    last_purchase + ({inferred_purchase}) * INTERVAL 1 MONTH >= {as_of} AS has_inferred,
    -- the relationship that exempts voice calls from a registry
    (last_purchase + (ebr_purchase_months) * INTERVAL 1 MONTH >= {as_of})
        OR (last_inquiry + (ebr_inquiry_months) * INTERVAL 1 MONTH >= {as_of}) AS has_ebr,
    -- an express opt-in that counts against a registry listing (AU: one stating no period lapses)
    status = 'opt_in' AND basis IN ({express_bases})
        AND (state_valid_until IS NULL OR state_valid_until > {as_of})
        AND (lapse_months IS NULL OR state_valid_until IS NOT NULL
             OR state_ts + (lapse_months) * INTERVAL 1 MONTH > {as_of}) AS registry_express,
    status = 'opt_in' AND NOT (
        (state_valid_until IS NULL OR state_valid_until > {as_of})
        AND NOT (basis = 'third_party' AND state_ts + ({third_party_days}) * INTERVAL 1 DAY <= {as_of})
    ) AS optin_expired
FROM p_facts f
