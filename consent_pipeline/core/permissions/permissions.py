"""Whether a message may be sent (semantics §5): one row per owned contact point x channel of its type x
leaf purpose x brand of the party's relationships, with `allowed`, the first applicable `reason` of the
decision table, the event that decided it and when it runs out.

All set-based SQL over whole tables, parameterised by the run's as-of time.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.sql import Step, run_steps, timed, ts

# Brands each party has a relationship with: the master's brands, and any event, transaction or receipt.
PARTY_BRANDS = Step(
    "p_party_brands",
    """
    SELECT DISTINCT party_id, brand FROM (
        SELECT c.party_id, trim(b.brand) AS brand
        FROM parties c, unnest(string_split(coalesce(c.brands, ''), ';')) AS b(brand)
        UNION ALL SELECT party_id, brand FROM consent_events WHERE party_id IS NOT NULL AND brand <> '*'
        UNION ALL SELECT o.party_id, e.brand
            FROM consent_events e JOIN contact_point_owner o ON o.contact_point = e.contact_point
            WHERE e.party_id IS NULL AND e.brand <> '*'
        UNION ALL SELECT party_id, brand FROM p_activity_party
    ) x
    WHERE brand IN (SELECT brand FROM ref_brands)
    """,
)

# Activity attributed to a party: named by the record, or the owner of the walk-in's email/phone.
ACTIVITY_PARTY = Step(
    "p_activity_party",
    """
    SELECT a.row_id AS activity_row, a.activity_id, coalesce(a.party_id, oe.party_id, op.party_id) AS party_id,
           a.brand, a.kind, a.occurred_at, a.amount, a.currency
    FROM activity a
    LEFT JOIN contact_point_owner oe ON a.party_id IS NULL AND oe.contact_point = a.email
    LEFT JOIN contact_point_owner op ON a.party_id IS NULL AND a.email IS NULL AND op.contact_point = a.phone
    WHERE coalesce(a.party_id, oe.party_id, op.party_id) IS NOT NULL AND a.occurred_at <= {as_of}
    """,
)

# The latest purchase / contract / inquiry per party and brand (with the activity that proves it).
RELATIONSHIP = Step(
    "p_relationship",
    """
    SELECT party_id, brand,
           max(occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase,
           arg_max(activity_id, occurred_at) FILTER (WHERE kind = 'purchase') AS last_purchase_id,
           max(occurred_at) FILTER (WHERE kind IN ('contract_start', 'contract_end')) AS last_contract,
           arg_max(activity_id, occurred_at)
               FILTER (WHERE kind IN ('contract_start', 'contract_end')) AS last_contract_id,
           max(occurred_at) FILTER (WHERE kind = 'inquiry') AS last_inquiry,
           arg_max(activity_id, occurred_at) FILTER (WHERE kind = 'inquiry') AS last_inquiry_id,
           bool_or(kind = 'purchase') AS ever_purchased
    FROM p_activity_party GROUP BY party_id, brand
    """,
)

# Whether each region's registries are fresh as of the run, from registry_status (core/registries/registries.py decides
# which snapshot of each registry is in force and how old it is, once a run). A region is fresh when every
# registry of it is: one never delivered counts as stale, unless the rules say the region does not need it
# until it is first delivered (`required: false`; a delivery that was never applied, damaged say, counts).
REGISTRY_STATUS = Step(
    "p_registry_status",
    """
    SELECT region,
           min(CASE WHEN fresh OR (NOT required AND newest_delivery IS NULL) THEN 1 ELSE 0 END) = 1 AS fresh
    FROM registry_status GROUP BY region
    """,
)

# The numbers on a snapshot in force, one row per number and region (a number on two registries of a region,
# TPS and Corporate TPS, names the first registry), with the time of the snapshot that lists it.
LISTED = Step(
    "p_listed",
    """
    SELECT contact_point, region, registry, delivery, since FROM (
        SELECT l.contact_point, s.region, s.registry, s.delivery, s.snapshot_ts AS since
        FROM registry_listings l JOIN registry_status s ON s.registry = l.registry AND s.delivery = l.delivery
    ) x
    QUALIFY row_number() OVER (PARTITION BY contact_point, region ORDER BY registry) = 1
    """,
)

# Undeliverable unless something later proved the contact point works.
UNDELIVERABLE = Step(
    "p_undeliverable",
    """
    SELECT u.contact_point, u.since_ts, u.row_id
    FROM (SELECT contact_point, since_ts, row_id FROM undeliverable WHERE since_ts <= {as_of}
          QUALIFY row_number() OVER (PARTITION BY contact_point ORDER BY since_ts DESC, row_id) = 1) u
    WHERE NOT EXISTS (
        SELECT 1 FROM contact_evidence e
        WHERE e.contact_point = u.contact_point AND e.kind IN ('double_opt_in', 'inbound_message')
          AND e.evidence_ts > u.since_ts AND e.evidence_ts <= {as_of}
    )
    """,
)

KEYS = Step(
    "p_keys",
    """
    SELECT o.party_id, o.contact_point, o.contact_point_type, ch.channel, pu.leaf AS purpose, pu.kind AS purpose_kind,
           pb.brand, pa.region, pa.country, col.template_column,
           CASE WHEN pa.country IN (SELECT country FROM ref_override_countries) THEN pa.country ELSE ''
           END AS cell_country
    FROM contact_point_owner o
    JOIN parties pa ON pa.party_id = o.party_id
    JOIN ref_channels ch ON ch.contact_point_type = o.contact_point_type
    JOIN ref_columns col ON col.channel = ch.channel
    JOIN (SELECT DISTINCT leaf, kind FROM ref_purposes) pu ON true
    JOIN p_party_brands pb ON pb.party_id = o.party_id
    WHERE {party_scope}
    """,
    view=True,
)

FACTS = Step(
    "p_facts",
    """
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
    """,
    view=True,
)

# Which bases hold for each key as of the run (and until when).
BASES = Step(
    "p_bases",
    """
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
    """,
    view=True,
)

# The decision table, rows 1-11, first that applies.
DECISION = Step(
    "p_decision",
    """
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
    """,
    view=True,
)

PERMISSION = Step(
    "p_permission",
    """
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
    """,
    view=True,
)

# Party-level inputs (whole tables, cheap), then the per-key chain, for every party or those in perm_scope.
INPUT_STEPS = [ACTIVITY_PARTY, PARTY_BRANDS, RELATIONSHIP, REGISTRY_STATUS, LISTED, UNDELIVERABLE]
KEY_STEPS = [KEYS, FACTS, BASES, DECISION, PERMISSION]
STEPS = INPUT_STEPS + KEY_STEPS


def params(rules: Rules, as_of: dt.datetime, scoped: bool = False) -> dict[str, str]:
    """The steps' parameters; `scoped`: only the keys of the parties in perm_scope."""
    t = rules.templates
    required = [p for p, d in rules.company.purposes.items() if d.kind == "transactional" and not d.opt_out_allowed]
    return {
        "as_of": ts(as_of),
        "express_bases": ", ".join(f"'{b}'" for b in t.express_bases),
        "required_purposes": ", ".join(f"'{p}'" for p in required) or "NULL",
        "third_party_days": str(rules.policies.third_party_consent.lifetime_days),
        "implied_purchase": str(t.implied_consent.purchase_months),
        "implied_contract": str(t.implied_consent.contract_months),
        "implied_inquiry": str(t.implied_consent.inquiry_months),
        "inferred_purchase": str(t.inferred_consent.purchase_months),
        "party_scope": "o.party_id IN (SELECT party_id FROM perm_scope)" if scoped else "true",
        # scoped, the states of those parties' contact points only: the join never builds over every key
        "current": (
            "(SELECT * FROM consent_current WHERE contact_point IN (SELECT contact_point FROM contact_point_owner"
            " WHERE party_id IN (SELECT party_id FROM perm_scope)))"
            if scoped
            else "consent_current"
        ),
    }


def build_permission_inputs(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime) -> None:
    """Temp tables p_activity_party, p_party_brands, p_relationship, p_registry_status, p_listed,
    p_undeliverable (identity, merge, erasure register and reference tables must exist)."""
    run_steps(con, INPUT_STEPS, params(rules, as_of))


def build_permissions(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, scoped: bool = False) -> None:
    """View p_permission: every key, or (scoped) the keys of the parties in perm_scope. The inputs must have
    been built by build_permission_inputs."""
    p = params(rules, as_of, scoped)
    run_steps(con, KEY_STEPS, p)


def write_all_permissions(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, batch_parties: int) -> int:
    """contact_permission for every party, in batches of about `batch_parties` parties: each batch is the
    scoped computation over its parties (perm_scope), so the joins of a very large run stay in memory
    instead of spilling the whole table's build. Returns the number of batches."""
    parties = con.execute("SELECT count(*) FROM parties").fetchall()[0][0]
    batches = max(1, -(-parties // max(1, batch_parties)))
    if batches == 1:
        build_permissions(con, rules, as_of)
        timed(
            con,
            "write contact_permission",
            "CREATE OR REPLACE TABLE contact_permission AS SELECT * FROM p_permission",
        )
        return 1
    con.execute("CREATE OR REPLACE TEMP TABLE perm_scope (party_id VARCHAR)")
    build_permissions(con, rules, as_of, scoped=True)
    con.execute("CREATE OR REPLACE TABLE contact_permission AS SELECT * FROM p_permission LIMIT 0")
    for batch in range(batches):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE perm_scope AS "
            f"SELECT party_id FROM parties WHERE hash(party_id) % {batches} = {batch}"
        )
        timed(
            con,
            f"write contact_permission {batch + 1}/{batches}",
            "INSERT INTO contact_permission SELECT * FROM p_permission",
        )
    return batches


INVARIANTS = [
    Invariant(
        "one_permission_per_key",
        "contact_permission",
        "one permission per (party, contact point, channel, purpose, brand)",
        # grouping 50M rows by one hash, then only the suspects by their five columns (exact whatever the
        # hash), is three times faster than grouping by the five columns
        """
        WITH suspects AS (
            SELECT hash(party_id, contact_point, channel, purpose, brand) AS h FROM contact_permission
            GROUP BY 1 HAVING count(*) > 1
        )
        SELECT party_id, contact_point, channel, purpose, brand, count(*) AS rows FROM contact_permission
        WHERE hash(party_id, contact_point, channel, purpose, brand) IN (SELECT h FROM suspects)
        GROUP BY ALL HAVING count(*) > 1
        """,
    ),
    Invariant(
        "opted_out_never_allowed",
        "contact_permission",
        "a key whose consent state is opt_out is never allowed, except service.billing",
        """
        SELECT p.party_id, p.contact_point, p.channel, p.purpose, p.brand, p.reason
        FROM contact_permission p JOIN consent_current c USING (contact_point, channel, purpose, brand)
        WHERE c.status = 'opt_out' AND p.allowed AND p.reason <> 'service_required'
        """,
        blocking=True,
    ),
]
