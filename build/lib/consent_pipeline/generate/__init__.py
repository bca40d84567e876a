"""`consent-pipeline generate`: a realistic landing tree for all fifteen feeds, deterministic for a seed.

The same people appear in several systems (CRM, ESPs, tills, the preference centre), households share phones
and emails, people opt in, out and in again, some files arrive late or twice, and a known small share of every
kind of bad input is mixed in. `<out>/.generator.json` records what was written, per source and per bad-input
kind, so a run's ledger can be checked against it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from consent_pipeline.config import Rules
from consent_pipeline.generate import feeds_crm, feeds_marketing, feeds_touch, people
from consent_pipeline.generate.landing import Landing
from consent_pipeline.generate.people import Population
from consent_pipeline.generate.plan import Plan
from consent_pipeline.generate.report import GenerationReport

REPORT_NAME = ".generator.json"

Feed = Callable[[Plan, Population, Landing], None]
FEEDS: dict[str, Feed] = {
    "customer_master": feeds_crm.customer_master,
    "salesforce_consent": feeds_crm.salesforce_consent,
    "mailchimp": feeds_marketing.mailchimp,
    "sendgrid": feeds_marketing.sendgrid,
    "twilio_sms": feeds_marketing.twilio_sms,
    "preference_centre": feeds_touch.preference_centre,
    "call_centre": feeds_touch.call_centre,
    "pos": feeds_touch.pos,
    "onetrust": feeds_touch.onetrust,
    "legacy": feeds_crm.legacy,
    "dnc_registries": feeds_marketing.dnc_registries,
    "lead_lists": feeds_marketing.lead_lists,
    "transactions": feeds_crm.transactions,
    "sends": feeds_crm.sends,
    "erasure_requests": feeds_crm.erasure_requests,
}


def generate(
    out: Path,
    rules: Rules,
    scale: float = 0.1,
    seed: int = 7,
    as_of: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> GenerationReport:
    started = time.perf_counter()
    plan = Plan.make(rules, scale, seed, as_of)
    report = GenerationReport(
        out=str(out),
        seed=seed,
        scale=scale,
        as_of=dt.datetime.fromtimestamp(plan.as_of, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    out.mkdir(parents=True, exist_ok=True)
    land = Landing(out, report)
    pop = people.build(plan)
    report.prospects = pop.prospects.height
    for name, feed in FEEDS.items():
        if progress:
            progress(name)
        feed(plan, pop, land)
    _redeliver(land)
    land.finish()
    report.wall_seconds = round(time.perf_counter() - started, 2)
    report.write(out / REPORT_NAME)
    return report


def _redeliver(land: Landing) -> None:
    """Upstream jobs that re-send a file they already sent: byte-identical copies in the next delivery."""
    for source in ("call_centre", "twilio_sms", "customer_master"):
        folder = land.root / source
        deliveries = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if len(deliveries) < 3:
            continue
        src, dst = deliveries[-3], deliveries[-2]
        for path in sorted((folder / src).iterdir()):
            land.redeliver(source, src, path.name, dst)
