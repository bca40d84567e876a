-- step: p_facts
-- kind: view
-- parameters: current (relation)
SELECT k.*,
       c.status, c.basis, c.event_id AS state_event, c.event_ts AS state_ts, c.valid_until AS state_valid_until,
       coalesce(c.double_opt_in, false) AS state_doi,
       er.contact_point IS NOT NULL AS erased,
       ud.contact_point IS NOT NULL AS undeliverable, ud.row_id AS undeliverable_row,
       coalesce(rs.fresh, true) AS registry_fresh, rs.region IS NOT NULL AS region_has_registry,
       rc.channel IS NOT NULL AS registry_applies,
       li.contact_point IS NOT NULL AS listed, li.registry AS listed_registry, li.delivery AS listed_delivery,
       rel.last_purchase, rel.last_purchase_id, rel.last_contract, rel.last_contract_id,
       rel.last_inquiry, rel.last_inquiry_id, coalesce(rel.ever_purchased, false) AS ever_purchased,
       ex.purchase_months AS ebr_purchase_months, ex.inquiry_months AS ebr_inquiry_months,
       lapse.months AS lapse_months,
       cell.written_only, cell.double_opt_in AS cell_doi,
       cell.accepts_express_consent, cell.accepts_soft_opt_in, cell.accepts_implied_consent,
       cell.accepts_inferred_consent, cell.accepts_third_party_consent, cell.accepts_legitimate_interest,
       cell.accepts_opt_out_model
FROM p_keys k
LEFT JOIN {current} c
    ON c.contact_point = k.contact_point AND c.channel = k.channel AND c.purpose = k.purpose AND c.brand = k.brand
LEFT JOIN (SELECT DISTINCT contact_point FROM erasure_register WHERE reestablished_at IS NULL) er
    ON er.contact_point = k.contact_point
LEFT JOIN p_undeliverable ud ON ud.contact_point = k.contact_point
LEFT JOIN p_registry_status rs ON rs.region = k.region
LEFT JOIN ref_registry_channels rc ON rc.region = k.region AND rc.channel = k.channel
LEFT JOIN p_listed li ON li.contact_point = k.contact_point AND li.region = k.region
LEFT JOIN p_relationship rel ON rel.party_id = k.party_id AND rel.brand = k.brand
LEFT JOIN ref_relationship_exemption ex ON ex.region = k.region
LEFT JOIN ref_express_lapse lapse ON lapse.region = k.region
LEFT JOIN ref_cells cell
    ON cell.region = k.region AND cell.country = k.cell_country AND cell.template_column = k.template_column
   AND cell.purpose = k.purpose
