-- step: p_permission
-- kind: view
-- parameters: as_of (timestamp), implied_contract (number), implied_inquiry (number), implied_purchase (number), inferred_purchase (number), third_party_days (number)
SELECT party_id, contact_point, channel, purpose, brand, region,
    reason IN ('service_required', 'service_allowed', 'established_relationship', 'express_consent', 'soft_opt_in',
               'implied_consent', 'inferred_consent', 'third_party_consent', 'legitimate_interest',
               'opt_out_model') AS allowed,
    reason,
    CASE
        WHEN reason IN ('opted_out', 'pending_double_opt_in', 'express_consent', 'third_party_consent',
                        'legitimate_interest', 'consent_expired') THEN state_event
        WHEN reason = 'undeliverable' THEN undeliverable_row
        WHEN reason = 'dnc_registry' THEN 'registry:' || listed_registry || '/' || listed_delivery
        WHEN reason = 'established_relationship' THEN
            -- the same month sum as the decision (has_ebr / has_implied): month ends agree
            CASE WHEN last_purchase + (ebr_purchase_months) * INTERVAL 1 MONTH >= {as_of} THEN last_purchase_id
                 ELSE last_inquiry_id END
        WHEN reason IN ('soft_opt_in', 'inferred_consent') THEN last_purchase_id
        WHEN reason = 'implied_consent' THEN
            CASE WHEN last_purchase + ({implied_purchase}) * INTERVAL 1 MONTH >= {as_of} THEN last_purchase_id
                 WHEN last_contract + ({implied_contract}) * INTERVAL 1 MONTH >= {as_of} THEN last_contract_id
                 ELSE last_inquiry_id END
    END AS decided_by,
    CASE
        WHEN reason = 'express_consent' THEN
            CASE WHEN state_valid_until IS NOT NULL THEN state_valid_until
                 WHEN registry_applies AND listed AND lapse_months IS NOT NULL
                     THEN state_ts + (lapse_months) * INTERVAL 1 MONTH
            END
        WHEN reason = 'third_party_consent' THEN
            least(state_ts + ({third_party_days}) * INTERVAL 1 DAY,
                  coalesce(state_valid_until, state_ts + ({third_party_days}) * INTERVAL 1 DAY))
        WHEN reason = 'implied_consent' THEN greatest(last_purchase + ({implied_purchase}) * INTERVAL 1 MONTH,
                                                      last_contract + ({implied_contract}) * INTERVAL 1 MONTH,
                                                      last_inquiry + ({implied_inquiry}) * INTERVAL 1 MONTH)
        WHEN reason = 'inferred_consent' THEN last_purchase + ({inferred_purchase}) * INTERVAL 1 MONTH
        WHEN reason = 'established_relationship' THEN
            greatest(last_purchase + (ebr_purchase_months) * INTERVAL 1 MONTH,
                     last_inquiry + (ebr_inquiry_months) * INTERVAL 1 MONTH)
    END AS valid_until,
    contact_point_type, status AS consent_status, basis AS consent_basis
FROM p_decision
