"""Decision table row 6 (voice or sms, and the region's registry is stale: fail closed) on the EDGE world,
and the consistency of `valid_until` with `allowed` on every run.

EDGE (as of 2026-08-31T06:00:00Z) has each registry delivered exactly at its freshness limit (company.md: US
DNC 31 days, CA DNCL 31 days, GB TPS 28 days, AU DNCR 30 days). The same landing is run at that instant
(`edge`: age = limit, fresh), one second later (`edge_stale`: age = limit + 1 s, stale) and without any
registry delivery (`never`: a registry never delivered counts as stale). The registry parties hold an
express opt-in, so a stale registry is the only thing that can block their calls and texts.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.permissions.cases import (
    BILLING,
    EDGE,
    EDGE_AS_OF,
    EDGE_REGISTRY_AGE_DAYS,
    ENERGY,
    HOME,
    MOTORS,
    OFFERS,
    OUTAGE,
    RUNS,
    Case,
    case,
)
from tests.permissions.harness import Runner, check
from tests.permissions.world import utc

GIVEN = utc("2026-06-01T10:00:00Z")
STALE_RUNS = ("edge_stale", "never")
ALL_RUNS = ("edge", *STALE_RUNS)
# region -> (country, brand, registry)
REGISTRY_REGIONS = {
    "US": ("US", ENERGY, "us_ftc"),
    "CA": ("CA", ENERGY, "ca_dncl"),
    "GB": ("GB", MOTORS, "uk_tps"),
    "AU": ("AU", MOTORS, "au_dncr"),
}
US_DELIVERY = EDGE_AS_OF - dt.timedelta(days=EDGE_REGISTRY_AGE_DAYS["us_ftc"])

CASES: list[Case] = []

# fmt: off
for region, (country, brand, registry) in REGISTRY_REGIONS.items():
    limit = EDGE_REGISTRY_AGE_DAYS[registry]
    p = EDGE.customer(f"F-{region}-EXPR", country, brand)
    EDGE.express_everywhere(p, GIVEN)
    for channel in ("voice", "sms"):
        CASES += [
            case(f"{region}-{channel}-registry-{limit}d-old-is-fresh", p, channel, OFFERS, brand, "express_consent",
                 run="edge", region=region,
                 proves=f"row 6 pair: the {registry} delivery exactly {limit} days old is fresh"),
            case(f"{region}-{channel}-registry-{limit}d-1s-old-is-stale", p, channel, OFFERS, brand,
                 "registry_stale", run="edge_stale",
                 proves=f"row 6: {limit} days and one second old is stale: fail closed, express opt-in or not"),
            case(f"{region}-{channel}-registry-never-delivered", p, channel, OFFERS, brand, "registry_stale",
                 run="never", proves="row 6: a registry never delivered counts as stale"),
        ]
    for run in ALL_RUNS:
        CASES += [
            case(f"{region}-email-unaffected[{run}]", p, "email", OFFERS, brand, "express_consent", run=run,
                 proves="row 6: a registry only concerns voice and sms"),
            case(f"{region}-mail-unaffected[{run}]", p, "mail", OFFERS, brand, "express_consent", run=run,
                 proves="row 6: ... not mail"),
            case(f"{region}-voice-billing[{run}]", p, "voice", BILLING, brand, "service_required", run=run,
                 proves="row 3 before row 6"),
            case(f"{region}-sms-outage[{run}]", p, "sms", OUTAGE, brand, "service_allowed", run=run,
                 proves="row 5 before row 6"),
        ]
    p = EDGE.customer(f"F-{region}-OUT", country, brand)
    EDGE.express_everywhere(p, utc("2026-05-01T10:00:00Z"))
    EDGE.salesforce(p, GIVEN, cp_type="Phone", status="OptOut")
    CASES += [
        case(f"{region}-voice-opted-out[{run}]", p, "voice", OFFERS, brand, "opted_out", run=run,
             proves="row 4 before row 6: an opt-out is reported as such, registry stale or not")
        for run in ALL_RUNS
    ]
    # voice is an opt-out-model cell in every region with a registry
    p = EDGE.customer(f"F-{region}-BARE", country, brand)
    CASES.append(case(f"{region}-voice-opt-out-model-fresh", p, "voice", OFFERS, brand, "opt_out_model",
                      run="edge", proves="row 6 pair: with a fresh registry the opt-out model allows calls"))
    CASES += [
        case(f"{region}-voice-opt-out-model-stale[{run}]", p, "voice", OFFERS, brand, "registry_stale", run=run,
             proves="row 6: a stale registry blocks even the opt-out model")
        for run in STALE_RUNS
    ]

p = EDGE.customer("F-US-LISTED", "US", ENERGY)
EDGE.registry("us_ftc", US_DELIVERY, [p.phone or ""])
CASES.append(case("US-voice-listed-fresh", p, "voice", OFFERS, ENERGY, "dnc_registry", run="edge",
                  decided_by=f"registry:us_ftc/{US_DELIVERY:%Y-%m-%dT%H%M%SZ}",
                  proves="row 7: listed on the fresh (31 days old) registry"))
CASES += [
    case(f"US-voice-listed-stale[{run}]", p, "voice", OFFERS, ENERGY, "registry_stale", run=run,
         proves="row 6 before row 7: a stale registry is reported stale, listed or not")
    for run in STALE_RUNS
]

# Regions without a registry are never stale.
for region, country, brand in (("EU", "FR", HOME), ("EU", "DE", HOME), ("OTHER", "CH", HOME)):
    p = EDGE.customer(f"F-{country}-EXPR", country, brand)
    EDGE.express_everywhere(p, GIVEN, double_opt_in=True)
    q = EDGE.customer(f"F-{country}-BARE", country, brand)
    for run in ALL_RUNS:
        CASES += [
            case(f"{country}-voice-no-registry[{run}]", p, "voice", OFFERS, brand, "express_consent", run=run,
                 region=region, proves="row 6: regions EU and OTHER have no registry to go stale"),
            case(f"{country}-sms-no-registry[{run}]", p, "sms", OFFERS, brand, "express_consent", run=run,
                 proves="row 6: ... sms included"),
            case(f"{country}-sms-bare[{run}]", q, "sms", OFFERS, brand, "no_consent", run=run,
                 proves="row 6 pair: without consent it is no_consent, never registry_stale"),
        ]

# Calendar months at a month end: 6 months before 2026-08-31 is 2026-02-28 (there is no 31 February).
p = EDGE.customer("M-CA-INQ-MAR1", "CA", ENERGY)
txn = EDGE.txn(p, ENERGY, "inquiry", utc("2026-03-01T06:00:00Z"))
CASES.append(case("CA-implied-inquiry-1-march", p, "email", OFFERS, ENERGY, "implied_consent", run="edge",
                  valid_until=utc("2026-09-01T06:00:00Z"), decided_by=txn,
                  proves="template CA email: an inquiry of 1 March is within 6 calendar months of 31 August"))
# ... and two parties whose windows end three days before the run (see test_allowed_rows_have_not_run_out)
p = EDGE.customer("M-CA-INQ-FEB28", "CA", ENERGY)
EDGE.txn(p, ENERGY, "inquiry", utc("2026-02-28T06:00:00Z"))
p = EDGE.customer("M-US-EBR-FEB28", "US", ENERGY)
EDGE.registry("us_ftc", US_DELIVERY, [p.phone or ""])
EDGE.txn(p, ENERGY, "purchase", utc("2025-02-28T06:00:00Z"))
# fmt: on


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_registry_freshness(case: Case, runner: Runner) -> None:
    """Row 6 and its neighbours, in the run the case names."""
    check(case, runner(case.run))




@pytest.mark.parametrize(
    "run",
    ["main", "edge", "edge_stale"],
)
def test_allowed_rows_have_not_run_out(run: str, runner: Runner) -> None:
    """§5: valid_until is when the consent runs out, so no allowed row's valid_until lies before the run."""
    if not RUNS[run].world.parties:
        pytest.skip(f"no module declaring parties of the {run!r} world was collected")
    outcome = runner(run)
    ran_out = sorted(
        (*key[:4], row.reason, f"{row.valid_until}")
        for key, row in outcome.permissions.items()
        if row.allowed and row.valid_until is not None and row.valid_until < RUNS[run].as_of
    )
    assert outcome.permissions  # the world's rows are there
    assert ran_out == [], "\n".join(map(str, ran_out))
