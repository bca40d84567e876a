"""Parties and who owns each contact point (semantics §3).

Customers come from the master (latest `updated_at` wins). Every (party, contact point) pair the data names
is an association; the owner of a contact point is decided by the four rules of §3, in order:
proof of control, the sole personal holder, the household's primary holder (only when the holders are one
household), the most recent association (ties: smallest party id).
Contact points no customer holds belong to prospects (`P-` + 16 hex of the SHA-256 of the key contact
point: a phone seen with an email joins that email's prospect).
"""

from __future__ import annotations

import duckdb
import polars as pl

from consent_pipeline.core.lib.sql import Step, run_steps, values_table
from consent_pipeline.lib.phone_zones import phone_countries

CUSTOMERS = Step(
    "id_customers",
    """
    SELECT customer_id AS party_id, customer_type AS party_type, household_id,
           coalesce(is_primary_holder, false) AS is_primary_holder, first_name, last_name, email, mobile_phone,
           home_phone, postal_address, country, brands, created_at, updated_at
    FROM customer_records
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC, received_ts DESC, row_id DESC) = 1
    """,
)

# Every pair of a known customer and a contact point, with how it is held: master fields are tiered
# (personal email/mobile, shared home phone, the household's address), anything else is 'associated'.
ASSOCIATIONS_RAW = Step(
    "id_assoc_raw",
    """
    SELECT party_id, email AS contact_point, 'email' AS contact_point_type, 'personal' AS tier, updated_at AS seen_at
    FROM id_customers WHERE email IS NOT NULL
    UNION ALL SELECT party_id, mobile_phone, 'phone', 'personal', updated_at FROM id_customers
        WHERE mobile_phone IS NOT NULL
    UNION ALL SELECT party_id, home_phone, 'phone', 'shared', updated_at FROM id_customers WHERE home_phone IS NOT NULL
    UNION ALL SELECT party_id, postal_address, 'postal', 'postal', updated_at FROM id_customers
        WHERE postal_address IS NOT NULL
    UNION ALL SELECT party_id, contact_point, contact_point_type, 'associated', event_ts FROM consent_events
        WHERE party_id IS NOT NULL AND contact_point IS NOT NULL
    UNION ALL SELECT party_id, email, 'email', 'associated', observed_ts FROM subject_profiles
        WHERE party_id IS NOT NULL AND email IS NOT NULL
    UNION ALL SELECT party_id, phone, 'phone', 'associated', observed_ts FROM subject_profiles
        WHERE party_id IS NOT NULL AND phone IS NOT NULL
    UNION ALL SELECT party_id, contact_point, contact_point_type, 'associated', evidence_ts FROM contact_evidence
        WHERE party_id IS NOT NULL AND contact_point IS NOT NULL
    UNION ALL SELECT party_id, email, 'email', 'associated', occurred_at FROM activity
        WHERE party_id IS NOT NULL AND email IS NOT NULL
    UNION ALL SELECT party_id, phone, 'phone', 'associated', occurred_at FROM activity
        WHERE party_id IS NOT NULL AND phone IS NOT NULL
    """,
    view=True,
)

ASSOCIATIONS = Step(
    "id_assoc",
    """
    SELECT a.party_id, a.contact_point, min(a.contact_point_type) AS contact_point_type,
           bool_or(a.tier = 'personal') AS personal, max(a.seen_at) AS last_seen
    FROM id_assoc_raw a JOIN id_customers c ON c.party_id = a.party_id
    GROUP BY a.party_id, a.contact_point
    """,
)

PROOFS = Step(
    "id_proofs",
    """
    SELECT e.contact_point, e.party_id, max(e.evidence_ts) AS proof_ts
    FROM contact_evidence e JOIN id_customers c ON c.party_id = e.party_id
    WHERE e.kind IN ('double_opt_in', 'account_login') AND e.contact_point IS NOT NULL
    GROUP BY e.contact_point, e.party_id
    """,
)

# The pool rules 3-4 choose from: the personal holders when any holds it personally (rule 2 prefers them),
# else every holder; and whether the pool is one household (a party with no household is a household of its
# own). min = max rather than count(DISTINCT) OVER, which Spark does not have.
CANDIDATES = Step(
    "id_candidates",
    """
    WITH held AS (
        SELECT a.party_id, a.contact_point, a.contact_point_type, a.personal, a.last_seen, c.household_id,
               (c.is_primary_holder OR c.household_id IS NULL) AS primary_holder, p.proof_ts,
               coalesce('h:' || c.household_id, 'p:' || a.party_id) AS household_key,
               count(*) FILTER (WHERE a.personal) OVER (PARTITION BY a.contact_point) AS personal_holders
        FROM id_assoc a
        JOIN id_customers c ON c.party_id = a.party_id
        LEFT JOIN id_proofs p ON p.contact_point = a.contact_point AND p.party_id = a.party_id
    ), pooled AS (
        SELECT *, (personal OR personal_holders = 0) AS in_pool FROM held
    )
    SELECT party_id, contact_point, contact_point_type, personal, last_seen, household_id, primary_holder,
           proof_ts, personal_holders, in_pool,
           min(household_key) OVER (PARTITION BY contact_point, in_pool)
               = max(household_key) OVER (PARTITION BY contact_point, in_pool) AS one_household
    FROM pooled
    """,
)

# Rules 1-4 as one ordering: the first candidate per contact point owns it. Rule 3 decides only when the
# pool is one household and its primary holder is in it; parties of different households (each perhaps the
# primary holder of its own) fall to rule 4: the most recent association, ties by smallest party id.
OWNERS = Step(
    "id_owner_customer",
    """
    SELECT contact_point, contact_point_type, party_id, household_id,
           CASE WHEN proof_ts IS NOT NULL THEN 'proof_of_control'
                WHEN personal AND personal_holders = 1 THEN 'personal'
                WHEN in_pool AND one_household AND primary_holder THEN 'primary_holder'
                ELSE 'most_recent' END AS rule
    FROM id_candidates
    QUALIFY row_number() OVER (
        PARTITION BY contact_point
        ORDER BY proof_ts IS NOT NULL DESC, proof_ts DESC,
                 (personal AND personal_holders = 1) DESC,
                 in_pool DESC,
                 (one_household AND primary_holder) DESC,
                 last_seen DESC, party_id ASC
    ) = 1
    """,
)

SEEN = Step(
    "id_seen",
    """
    SELECT DISTINCT contact_point, contact_point_type FROM (
        SELECT contact_point, contact_point_type FROM consent_events WHERE contact_point IS NOT NULL
        UNION ALL SELECT email, 'email' FROM subject_profiles WHERE email IS NOT NULL
        UNION ALL SELECT phone, 'phone' FROM subject_profiles WHERE phone IS NOT NULL
        UNION ALL SELECT email, 'email' FROM activity WHERE email IS NOT NULL
        UNION ALL SELECT phone, 'phone' FROM activity WHERE phone IS NOT NULL
    )
    """,
)

PROSPECT_POINTS = Step(
    "id_prospect_points",
    """
    SELECT s.contact_point, s.contact_point_type FROM id_seen s
    WHERE NOT EXISTS (SELECT 1 FROM id_owner_customer o WHERE o.contact_point = s.contact_point)
    """,
)

# A phone seen (without a customer) together with an email joins that email's prospect.
PHONE_EMAIL = Step(
    "id_phone_email",
    """
    SELECT phone, email FROM subject_profiles
    WHERE party_id IS NULL AND phone IS NOT NULL AND email IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY phone ORDER BY observed_ts DESC, email) = 1
    """,
)

PROSPECT_OWNERS = Step(
    "id_owner_prospect",
    """
    SELECT p.contact_point, p.contact_point_type,
           'P-' || substr(sha256(CASE WHEN p.contact_point_type = 'phone' AND e.email IS NOT NULL THEN e.email
                                      ELSE p.contact_point END), 1, 16) AS party_id,
           CAST(NULL AS VARCHAR) AS household_id, 'prospect' AS rule
    FROM id_prospect_points p
    LEFT JOIN id_phone_email e
        ON e.phone = p.contact_point
       AND e.email IN (SELECT contact_point FROM id_prospect_points WHERE contact_point_type = 'email')
    """,
)

OWNER = Step(
    "id_owner",
    """
    SELECT contact_point, contact_point_type, party_id, household_id, rule FROM id_owner_customer
    UNION ALL SELECT contact_point, contact_point_type, party_id, household_id, rule FROM id_owner_prospect
    """,
)

# Contact points associated with each party (a party-level opt-out reaches all of them, owned or not).
PARTY_POINTS = Step(
    "id_party_points",
    """
    SELECT party_id, contact_point, contact_point_type FROM id_assoc
    UNION SELECT party_id, contact_point, contact_point_type FROM id_owner_prospect
    """,
)

PROSPECT_PROFILE = Step(
    "id_prospect_profile",
    """
    SELECT party_id, country, first_name, last_name FROM (
        -- two equi-joins rather than one join on (email OR phone), which would be a nested loop
        SELECT o.party_id, s.country, s.first_name, s.last_name, s.observed_ts, s.row_id
        FROM id_owner_prospect o JOIN subject_profiles s ON s.party_id IS NULL AND s.email = o.contact_point
        UNION ALL
        SELECT o.party_id, s.country, s.first_name, s.last_name, s.observed_ts, s.row_id
        FROM id_owner_prospect o JOIN subject_profiles s ON s.party_id IS NULL AND s.phone = o.contact_point
    )
    QUALIFY row_number() OVER (PARTITION BY party_id ORDER BY country IS NULL, observed_ts DESC, row_id) = 1
    """,
)

PARTIES_BASE = Step(
    "id_parties_base",
    """
    SELECT party_id, party_type, household_id, is_primary_holder, upper(country) AS country, first_name, last_name,
           brands, coalesce(mobile_phone, home_phone) AS phone
    FROM id_customers
    UNION ALL
    SELECT DISTINCT o.party_id, 'prospect', CAST(NULL AS VARCHAR), true, upper(pp.country), pp.first_name,
           pp.last_name, CAST(NULL AS VARCHAR), ph.contact_point
    FROM id_owner_prospect o
    LEFT JOIN id_prospect_profile pp ON pp.party_id = o.party_id
    LEFT JOIN (SELECT party_id, min(contact_point) AS contact_point FROM id_owner_prospect
               WHERE contact_point_type = 'phone' GROUP BY party_id) ph ON ph.party_id = o.party_id
    """,
)

# Region from the country; with no country, from the phone's country (which then is the party's country, so
# that country overrides such as DE's double opt-in apply too); else the fallback region.
PARTIES = Step(
    "id_parties",
    """
    SELECT b.party_id, b.party_type, b.household_id, b.is_primary_holder, coalesce(b.country, pc.country) AS country,
           coalesce(r.region, CASE WHEN b.country IS NULL THEN pr.region END, f.region) AS region,
           b.first_name, b.last_name, b.brands
    FROM id_parties_base b
    CROSS JOIN ref_fallback f
    LEFT JOIN ref_regions r ON r.country = b.country
    LEFT JOIN id_phone_country pc ON b.country IS NULL AND pc.phone = b.phone
    LEFT JOIN ref_regions pr ON pr.country = pc.country
    """,
)

# Events that name a customer not seen yet (or a Salesforce Individual not linked yet, or a Salesforce
# contact-point record not delivered yet): they wait.
WAITING = Step(
    "id_waiting",
    """
    SELECT e.event_id, e.source, e.party_id, e.party_ref, e.event_ts, e.received_ts
    FROM consent_events e
    WHERE (e.party_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM id_customers c WHERE c.party_id = e.party_id))
       OR (e.party_id IS NULL AND e.party_ref IS NOT NULL)
       OR (e.contact_point IS NULL AND e.contact_point_ref IS NOT NULL)
    """,
)

BEFORE_PHONES = [
    CUSTOMERS,
    ASSOCIATIONS_RAW,
    ASSOCIATIONS,
    PROOFS,
    CANDIDATES,
    OWNERS,
    SEEN,
    PROSPECT_POINTS,
    PHONE_EMAIL,
    PROSPECT_OWNERS,
    OWNER,
    PARTY_POINTS,
    PROSPECT_PROFILE,
    PARTIES_BASE,
]
AFTER_PHONES = [PARTIES, WAITING]


def _phone_countries(con: duckdb.DuckDBPyConnection) -> None:
    """The country of each phone of a party with no country (company.md Regions): the region the numbering
    plan gives it, else its calling code's country, so that a fictional or unallocated range (+44 7700
    900123) is still GB. Decided over the distinct numbers at once (lib/phone_zones)."""
    phones = con.sql(
        "SELECT DISTINCT phone FROM id_parties_base WHERE country IS NULL AND phone IS NOT NULL ORDER BY phone"
    ).pl()["phone"]
    found = pl.DataFrame({"phone": phones, "country": phone_countries(phones)}).filter(pl.col("country").is_not_null())
    values_table(con, "id_phone_country", ["phone", "country"], found.rows())


def build_identity(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables id_parties, id_owner, id_party_points, id_waiting (reference tables must be loaded)."""
    run_steps(con, BEFORE_PHONES)
    _phone_countries(con)
    run_steps(con, AFTER_PHONES)
