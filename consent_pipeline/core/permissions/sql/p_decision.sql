-- step: p_decision
-- kind: view
-- parameters: required_purposes (list)
-- The decision table, rows 1-11, first that applies.
SELECT *,
    CASE
        WHEN erased THEN 'erased'
        WHEN undeliverable THEN 'undeliverable'
        WHEN purpose IN ({required_purposes}) THEN 'service_required'
        WHEN status = 'opt_out' THEN 'opted_out'
        WHEN purpose_kind = 'transactional' THEN 'service_allowed'
        WHEN channel IN ('voice', 'sms') AND region_has_registry AND NOT registry_fresh THEN 'registry_stale'
        WHEN registry_applies AND listed AND NOT coalesce(registry_express, false) THEN
            CASE WHEN channel = 'voice' AND coalesce(has_ebr, false) THEN 'established_relationship'
                 ELSE 'dnc_registry' END
        WHEN status = 'pending' THEN 'pending_double_opt_in'
        WHEN accepts_express_consent AND coalesce(has_express, false) THEN 'express_consent'
        WHEN accepts_soft_opt_in AND coalesce(has_soft_opt_in, false) THEN 'soft_opt_in'
        WHEN accepts_implied_consent AND coalesce(has_implied, false) THEN 'implied_consent'
        WHEN accepts_inferred_consent AND coalesce(has_inferred, false) THEN 'inferred_consent'
        WHEN accepts_third_party_consent AND coalesce(has_third_party, false) THEN 'third_party_consent'
        WHEN accepts_legitimate_interest AND coalesce(has_legitimate_interest, false) THEN 'legitimate_interest'
        WHEN accepts_opt_out_model THEN 'opt_out_model'
        WHEN coalesce(optin_expired, false) THEN 'consent_expired'
        ELSE 'no_consent'
    END AS reason
FROM p_bases
