"""Marketing-platform feeds: Mailchimp audience snapshots, SendGrid suppressions and events, the Twilio message
log, lead-vendor lists and the do-not-call registries (feeds.md §3, 4, 5, 11, 12)."""

from __future__ import annotations

import numpy as np
import polars as pl

from consent_pipeline.generate import phones
from consent_pipeline.generate import timeline as tl
from consent_pipeline.generate.feeds_crm import _report_bad
from consent_pipeline.generate.fmt import (
    DAY,
    ISO_Z,
    RFC2822_UTC,
    SPACE_UTC,
    choice,
    day_stamp,
    delivery_name,
    hex_ids,
    jobj,
    jraw,
    jstr,
    strftime,
)
from consent_pipeline.generate.landing import Landing
from consent_pipeline.generate.people import Population
from consent_pipeline.generate.plan import Plan
from consent_pipeline.generate.variants import broken_email, corrupt, typed_email, typed_phone


def _with_brand(pop: Population, brand: str) -> pl.DataFrame:
    return pop.customers.filter(pl.col("brands").list.contains(brand))


def _pool(
    rng: np.random.Generator, pop: Population, brand_regions: list[str], brand: str, k: int, prospect_share: float
) -> pl.DataFrame:
    """`k` people for a brand's list: its customers and some prospects of its regions."""
    cust = _with_brand(pop, brand).select(
        "first", "last", "email", "mobile_plan", "mobile_nsn", "country", pl.col("customer_id")
    )
    pros = pop.prospects.filter(pl.col("region").is_in(brand_regions)).select(
        "first", "last", "email", "mobile_plan", "mobile_nsn", "country", pl.lit(None, pl.String).alias("customer_id")
    )
    n_p = min(int(k * prospect_share), pros.height)
    n_c = min(k - n_p, cust.height)
    parts = []
    if n_c:
        parts.append(cust.gather(rng.choice(cust.height, n_c, replace=False)))
    if n_p:
        parts.append(pros.gather(rng.choice(pros.height, n_p, replace=False)))
    return pl.concat(parts) if parts else cust.head(0)


# --- mailchimp ------------------------------------------------------------------------------------------------

MC_HEAD = [
    "Email Address",
    "First Name",
    "Last Name",
    "Phone Number",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
]
MC_TAIL = ["LEID", "EUID", "NOTES", "TAGS"]


def mailchimp(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("mailchimp")
    audiences = plan.rules.mapping("mailchimp").audiences
    brands = plan.rules.company.brands
    times = tl.deliveries(plan, 7, 2, 15)
    per = max(plan.n("mailchimp_members") // max(len(audiences), 1), 5)
    members = []
    for aud, spec in audiences.items():
        p = _pool(rng, pop, brands[spec.brand].regions, spec.brand, per, 0.3).with_columns(pl.lit(aud).alias("aud"))
        members.append(p)
    m = pl.concat(members)
    n = m.height
    joined = np.where(
        rng.random(n) < 0.7,
        tl.event_times(rng, n, plan.history_start, plan.start),
        tl.event_times(rng, n, plan.start, int(times[-1])),
    )
    kind = rng.random(n)
    unsub = np.where(rng.random(n) < 0.15, joined + (rng.random(n) * (plan.as_of - joined)).astype(np.int64), -1)
    cleaned = np.where(
        (unsub < 0) & (rng.random(n) < 0.03), joined + (rng.random(n) * (plan.as_of - joined)).astype(np.int64), -1
    )
    bad = tl.bad_kinds(rng, n, {"invalid_email": 0.0005})
    m = m.with_columns(
        pl.Series("joined", joined),
        pl.Series("confirm", kind < 0.6),
        pl.Series("optin_only", (kind >= 0.6) & (kind < 0.9)),
        pl.Series("unsub", unsub),
        pl.Series("cleaned", cleaned),
        bad,
        typed_email(rng, m["email"]).alias("typed"),
        typed_phone(rng, m).fill_null("").alias("phone"),
        ("a" + hex_ids(rng, n, 5)).alias("leid"),
        hex_ids(rng, n, 5).alias("euid"),
    ).with_columns(corrupt(pl.col("typed"), "bad", "invalid_email", broken_email(pl.col("email"))).alias("typed"))
    for when in times:
        d = delivery_name(int(when))
        snap = m.filter(pl.col("joined") <= int(when))
        for aud in audiences:
            a = snap.filter(pl.col("aud") == aud)
            is_unsub = (pl.col("unsub") >= 0) & (pl.col("unsub") <= int(when))
            is_clean = (pl.col("cleaned") >= 0) & (pl.col("cleaned") <= int(when))
            base = [
                pl.col("typed").alias("Email Address"),
                pl.col("first").alias("First Name"),
                pl.col("last").alias("Last Name"),
                pl.col("phone").alias("Phone Number"),
                pl.lit("2").alias("MEMBER_RATING"),
                pl.when(pl.col("confirm") | pl.col("optin_only"))
                .then(strftime("joined", SPACE_UTC))
                .otherwise(pl.lit(""))
                .alias("OPTIN_TIME"),
                pl.lit("").alias("OPTIN_IP"),
                pl.when(pl.col("confirm"))
                .then(strftime(pl.col("joined") + 600, SPACE_UTC))
                .otherwise(pl.lit(""))
                .alias("CONFIRM_TIME"),
                pl.lit("").alias("CONFIRM_IP"),
                pl.lit("").alias("LATITUDE"),
                pl.lit("").alias("LONGITUDE"),
                pl.lit("0").alias("GMTOFF"),
                pl.lit("0").alias("DSTOFF"),
                pl.lit("").alias("TIMEZONE"),
                pl.col("country").alias("CC"),
                pl.lit("").alias("REGION"),
            ]
            tail = [
                pl.col("leid").alias("LEID"),
                pl.col("euid").alias("EUID"),
                pl.lit("").alias("NOTES"),
                pl.lit("").alias("TAGS"),
            ]
            sub = a.filter(~is_unsub & ~is_clean).select(
                *base, strftime(pl.col("joined") + 600, SPACE_UTC).alias("LAST_CHANGED"), *tail
            )
            uns = a.filter(is_unsub).select(
                *base,
                strftime("unsub", SPACE_UTC).alias("UNSUB_TIME"),
                pl.lit("Weekly offers").alias("T"),
                pl.lit("c1").alias("UNSUB_CAMPAIGN_ID"),
                pl.lit("NORMAL").alias("UNSUB_REASON"),
                pl.lit("").alias("O"),
                *tail,
                pl.lit("c1").alias("X1"),
                pl.lit("NORMAL").alias("X2"),
            )
            cln = a.filter(is_clean & ~is_unsub).select(
                *base,
                strftime("cleaned", SPACE_UTC).alias("CLEAN_TIME"),
                pl.lit("Weekly offers").alias("T"),
                pl.lit("c1").alias("CLEAN_CAMPAIGN_ID"),
                *tail,
            )
            head = MC_HEAD
            if aud == list(audiences)[-1]:  # an audience with its own merge field and no phone column
                sub = sub.drop("Phone Number").with_columns(pl.lit("Leeds, North").alias("Preferred Dealer"))
                sub = sub.select("Preferred Dealer", *[c for c in sub.columns if c != "Preferred Dealer"])
            land.csv("mailchimp", d, f"subscribed_members_export_{aud}.csv", sub, header_quotes="spaces")
            land.csv(
                "mailchimp",
                d,
                f"unsubscribed_members_export_{aud}.csv",
                uns,
                header=[
                    *head,
                    "UNSUB_TIME",
                    "UNSUB_CAMPAIGN_TITLE",
                    "UNSUB_CAMPAIGN_ID",
                    "UNSUB_REASON",
                    "UNSUB_REASON_OTHER",
                    *MC_TAIL,
                    "UNSUB_CAMPAIGN_ID",
                    "UNSUB_REASON",
                ],
                header_quotes="spaces",
            )
            land.csv(
                "mailchimp",
                d,
                f"cleaned_members_export_{aud}.csv",
                cln,
                header=[*head, "CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID", *MC_TAIL],
                header_quotes="spaces",
            )
        if when == times[0]:  # an export of an audience nobody mapped: every member is quarantined
            stray = m.head(1).select(
                pl.col("typed").alias("Email Address"),
                pl.col("first").alias("First Name"),
                pl.col("last").alias("Last Name"),
                strftime("joined", SPACE_UTC).alias("OPTIN_TIME"),
                strftime("joined", SPACE_UTC).alias("LAST_CHANGED"),
            )
            land.csv("mailchimp", d, "subscribed_members_export_zz9unmapped.csv", stray, header_quotes="spaces")
            land.report.add_bad("mailchimp", "unmapped_audience", 1)
    # A malformed address is in every snapshot that lists its member.
    bad_rows = m.filter(pl.col("bad") == "invalid_email")
    for when in times:
        land.report.add_bad("mailchimp", "invalid_email", int((bad_rows["joined"] <= int(when)).sum()))


# --- sendgrid ---------------------------------------------------------------------------------------------------

NOISE = ["delivered", "open", "click", "processed", "deferred"]


def sendgrid(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("sendgrid")
    m = plan.rules.mapping("sendgrid")
    groups = {gid: g.name for gid, g in m.groups.items()}
    brand = m.brand
    people = _with_brand(pop, brand)
    times = tl.deliveries(plan, 7, 3, 45)
    share = {"global": 0.02, "group": 0.05, "bounce": 0.02, "spam": 0.003}
    dumps = []
    for kind, s in share.items():
        k = max(int(people.height * s), 1)
        who = people.gather(rng.choice(people.height, min(k, people.height), replace=False))
        ts = np.where(
            rng.random(who.height) < 0.6,
            tl.event_times(rng, who.height, plan.history_start, plan.start),
            tl.event_times(rng, who.height, plan.start, int(times[-1])),
        )
        dumps.append(
            who.select("email").with_columns(
                pl.lit(kind).alias("kind"),
                pl.Series("ts", ts),
                choice(rng, [str(g) for g in groups], who.height).cast(pl.Int64).alias("gid"),
                choice(rng, ["5.1.1", "5.0.0", "4.2.2", "4.4.1"], who.height).alias("status"),
            )
        )
    sup = pl.concat(dumps)
    names = pl.Series([groups[g] for g in sup["gid"].to_list()]) if sup.height else pl.Series([], dtype=pl.String)
    sup = sup.with_columns(names.alias("gname"))
    email = jstr(pl.col("email"))
    fmt = {
        "global": ("global_unsubscribes.json", jobj([("created", jraw(pl.col("ts"))), ("email", email)])),
        "group": (
            "group_unsubscribes.json",
            jobj(
                [
                    ("email", email),
                    ("group_id", jraw(pl.col("gid"))),
                    ("group_name", jstr(pl.col("gname"))),
                    ("created_at", jraw(pl.col("ts"))),
                ]
            ),
        ),
        "bounce": (
            "bounces.json",
            jobj(
                [
                    ("created", jraw(pl.col("ts"))),
                    ("email", email),
                    ("reason", jstr(pl.lit("550 mailbox unavailable"))),
                    ("status", jstr(pl.col("status"))),
                ]
            ),
        ),
        "spam": (
            "spam_reports.json",
            jobj([("created", jraw(pl.col("ts"))), ("email", email), ("ip", jstr(pl.lit("10.63.202.100")))]),
        ),
    }
    # Webhook events: mostly delivery noise, some consent events.
    k = plan.n("sendgrid_noise_events")
    who = people.gather(rng.integers(0, people.height, k))
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    ev_kind = choice(
        rng,
        [*NOISE, "unsubscribe", "group_unsubscribe", "group_resubscribe", "spamreport", "bounce"],
        k,
        [0.3, 0.3, 0.2, 0.1, 0.04, 0.01, 0.025, 0.01, 0.002, 0.013],
    )
    idx, _ = tl.assign(rng, ts, times, late_share=0.0)
    bad = tl.bad_kinds(rng, k, {"truncated_json": 0.0003, "unmapped_group": 0.0003})
    ev = pl.DataFrame(
        {
            "d": idx,
            "email": who["email"],
            "ts": ts,
            "event": ev_kind,
            "bad": bad,
            "gid": choice(rng, [str(g) for g in groups], k).cast(pl.Int64),
            "id": hex_ids(rng, k, 11),
        }
    ).with_columns(
        pl.when(pl.col("bad") == "unmapped_group")
        .then(pl.lit("group_unsubscribe"))
        .otherwise(pl.col("event"))
        .alias("event"),
        pl.when(pl.col("bad") == "unmapped_group").then(pl.lit(999)).otherwise(pl.col("gid")).alias("gid"),
    )
    grouped = pl.col("event").is_in(["group_unsubscribe", "group_resubscribe"])
    line = jobj(
        [
            ("email", jstr(pl.col("email"))),
            ("timestamp", jraw(pl.col("ts"))),
            ("event", jstr(pl.col("event"))),
            ("sg_event_id", jstr(pl.col("id"))),
            ("asm_group_id", pl.when(grouped).then(jraw(pl.col("gid")))),
            # A webhook bounce carries its enhanced status, as SendGrid sends it: mostly permanent, some temporary.
            (
                "status",
                pl.when(pl.col("event") == "bounce").then(
                    pl.when(pl.col("id").str.slice(0, 1).is_in(["0", "1", "2"]))
                    .then(pl.lit('"4.2.2"'))
                    .otherwise(pl.lit('"5.1.1"'))
                ),
            ),
        ]
    )
    ev = ev.with_columns(
        pl.when(pl.col("bad") == "truncated_json").then(line.str.slice(0, 30)).otherwise(line).alias("line")
    )
    _report_bad(land, "sendgrid", bad)
    for i, when in enumerate(times):
        d = delivery_name(int(when))
        known = sup.filter(pl.col("ts") <= int(when))
        for kind, (name, obj) in fmt.items():
            part = known.filter(pl.col("kind") == kind)
            lines = part.select(obj).to_series()
            if i == 1 and kind == "global":  # a created time days after the dump: bad input
                lines = pl.concat(
                    [
                        lines,
                        pl.select(
                            jobj(
                                [
                                    ("created", pl.lit(str(int(when) + 3 * DAY))),
                                    ("email", pl.lit('"late.clock@example.com"')),
                                ]
                            )
                        ).to_series(),
                    ]
                )
                land.report.add_bad("sendgrid", "future_timestamp", 1)
            land.json_array("sendgrid", d, name, lines)
        part = ev.filter(pl.col("d") == i)
        land.lines("sendgrid", d, f"events_{day_stamp(int(when))}.jsonl", part["line"])


# --- twilio_sms -------------------------------------------------------------------------------------------------

INBOUND_BODIES = [
    "STOP",
    "stop ",
    "Unsubscribe",
    "START",
    "Yes",
    "HELP",
    "Thanks!",
    "Ok see you then",
    "Please remove me from this list",
    "Don't text me again",
    "STOPALL",
    "what time?",
]
INBOUND_WEIGHTS = [0.22, 0.05, 0.03, 0.1, 0.05, 0.05, 0.25, 0.1, 0.04, 0.03, 0.02, 0.06]


def twilio_sms(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("twilio_sms")
    senders = plan.rules.mapping("twilio_sms").senders
    times = tl.deliveries(plan, 7, 4, 10)
    k = plan.n("twilio_messages")
    c = pop.customers.filter(pl.col("mobile_nsn").is_not_null())
    # A sender number serves a brand in the country of its calling code.
    rows = []
    for number, s in senders.items():
        cc = number[1:]
        for region in plan.rules.company.brands[s.brand].regions:
            fits = c.filter(pl.col("brands").list.contains(s.brand) & (pl.col("region") == region))
            if fits.height:
                hit = fits.with_columns(phones.e164("mobile_plan", "mobile_nsn").alias("from"))
                hit = hit.filter(pl.col("from").str.slice(1, 1) == cc[0])
                if hit.height:
                    rows.append(hit.select("from", pl.lit(number).alias("to")))
    pairs = pl.concat(rows)
    pick = pairs.gather(rng.integers(0, pairs.height, k))
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times, late_share=0.01)
    inbound = rng.random(k) < 0.55
    bad = tl.bad_kinds(rng, k, {"invalid_phone": 0.0005, "bad_timestamp": 0.0005, "unmapped_sender": 0.0005})
    f = pl.DataFrame(
        {
            "d": idx,
            "ts": ts,
            "in": inbound,
            "bad": bad,
            "peer": pick["from"],
            "num": pick["to"],
            "body": choice(rng, INBOUND_BODIES, k, INBOUND_WEIGHTS),
            "sid": "SM" + hex_ids(rng, k, 16),
            "iso": rng.random(k) < 0.2,
        }
    )
    when_txt = pl.when(pl.col("iso")).then(strftime("ts", ISO_Z)).otherwise(strftime("ts", RFC2822_UTC))
    f = f.with_columns(
        pl.when(pl.col("in") | pl.col("bad").is_not_null()).then(pl.col("peer")).otherwise(pl.col("num")).alias("From"),
        pl.when(pl.col("in") | pl.col("bad").is_not_null()).then(pl.col("num")).otherwise(pl.col("peer")).alias("To"),
        pl.when(pl.col("in") | pl.col("bad").is_not_null())
        .then(pl.col("body"))
        .otherwise(pl.lit("Your bill is ready. Reply STOP to opt out."))
        .alias("Body"),
        pl.when(pl.col("in") | pl.col("bad").is_not_null())
        .then(pl.lit("received"))
        .otherwise(pl.lit("delivered"))
        .alias("Status"),
        when_txt.alias("SentDate"),
        pl.when(pl.col("in") | pl.col("bad").is_not_null())
        .then(pl.lit("inbound"))
        .otherwise(pl.lit("outbound-api"))
        .alias("Direction"),
    ).with_columns(
        pl.when(pl.col("bad").is_not_null()).then(pl.lit("STOP")).otherwise(pl.col("Body")).alias("Body"),
        corrupt(pl.col("From"), "bad", "invalid_phone", pl.lit("+1415555")).alias("From"),
        corrupt(pl.col("SentDate"), "bad", "bad_timestamp", pl.lit("Tue, 31 Feb 2026 10:00:00 +0000")).alias(
            "SentDate"
        ),
        corrupt(pl.col("To"), "bad", "unmapped_sender", pl.lit("+15005550006")).alias("To"),
    )
    _report_bad(land, "twilio_sms", bad)
    cols = [
        "From",
        "To",
        "Body",
        "Status",
        "SentDate",
        "ApiVersion",
        "NumSegments",
        "ErrorCode",
        "AccountSid",
        "Sid",
        "Direction",
        "Price",
        "PriceUnit",
    ]
    f = f.with_columns(
        pl.lit("2010-04-01").alias("ApiVersion"),
        pl.lit("1").alias("NumSegments"),
        pl.lit("").alias("ErrorCode"),
        pl.lit("AC0f1e2d3c4b5a69788796a5b4c3d2e1f0").alias("AccountSid"),
        pl.col("sid").alias("Sid"),
        pl.lit("").alias("Price"),
        pl.lit("USD").alias("PriceUnit"),
    )
    for i, (when, part) in enumerate(tl.groups(f, times)):
        use = [c for c in cols if not (i % 4 == 2 and c == "ErrorCode")]  # older exports lack ErrorCode
        land.csv("twilio_sms", delivery_name(when), f"messages_{day_stamp(when)}.csv", part.select(use))


# --- lead_lists -------------------------------------------------------------------------------------------------


def lead_lists(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("lead_lists")
    k = plan.n("leads")
    times = tl.deliveries(plan, 7, 5, 30)
    pros = pop.prospects
    cust = pop.customers
    from_customers = rng.random(k) < 0.15
    pp = pros.gather(rng.integers(0, pros.height, k))
    cc = cust.gather(rng.integers(0, cust.height, k))
    cols = ["first", "last", "email", "mobile_plan", "mobile_nsn", "country", "region"]
    who = pl.concat(
        [
            pp.select(cols).with_columns(pl.Series("cust", from_customers)),
            cc.select(cols).with_columns(pl.Series("cust", from_customers)),
        ]
    )
    who = (
        who.with_row_index("i")
        .filter(((pl.col("i") < k) & ~pl.col("cust")) | ((pl.col("i") >= k) & pl.col("cust")))
        .sort(pl.col("i") % k)
    )
    brand_of_region = {}
    for b, spec in plan.rules.company.brands.items():
        for r in spec.regions:
            brand_of_region.setdefault(r, b)
    ts = tl.event_times(rng, k, plan.start - 14 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times)
    bad = tl.bad_kinds(rng, k, {"invalid_email": 0.001, "bad_timestamp": 0.001})
    f = who.with_columns(
        pl.Series("d", idx),
        pl.Series("ts", ts),
        bad,
        choice(rng, ["email", "email;sms", "sms", "email;sms;voice"], k, [0.5, 0.3, 0.1, 0.1]).alias(
            "consent_channels"
        ),
    ).with_columns(
        pl.when(pl.col("bad") == "invalid_email")
        .then(pl.lit("email"))
        .otherwise(pl.col("consent_channels"))
        .alias("consent_channels"),
    )
    f = f.with_columns(
        ("L-" + pl.Series(np.arange(1, k + 1) + 400_000).cast(pl.String)).alias("lead_id"),
        choice(rng, ["LeadGenCo", "QuoteHub", "MoveMate"], k).alias("vendor"),
        pl.col("region").replace_strict(brand_of_region, default=next(iter(plan.rules.company.brands))).alias("brand"),
        corrupt(typed_email(rng, f["email"]), "bad", "invalid_email", broken_email(pl.col("email"))).alias("email"),
        pl.when(pl.col("bad") == "invalid_email")
        .then(pl.lit(""))
        .otherwise(typed_phone(rng, f).fill_null(""))
        .alias("phone"),
        pl.col("first").alias("first_name"),
        pl.col("last").alias("last_name"),
        pl.lit("").alias("postal_code"),
        pl.lit("v3").alias("consent_text_version"),
        corrupt(strftime("ts", ISO_Z), "bad", "bad_timestamp", pl.lit("last tuesday")).alias("consent_captured_at"),
        pl.lit("203.0.113.7").alias("ip_address"),
    )
    _report_bad(land, "lead_lists", bad)
    cols = [
        "lead_id",
        "vendor",
        "brand",
        "email",
        "phone",
        "first_name",
        "last_name",
        "country",
        "postal_code",
        "consent_channels",
        "consent_text_version",
        "consent_captured_at",
        "ip_address",
    ]
    for when, part in tl.groups(f, times):
        land.csv("lead_lists", delivery_name(when), f"leads_{day_stamp(when)}.csv", part.select(cols))


# --- dnc_registries ---------------------------------------------------------------------------------------------


def dnc_registries(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("dnc_registries")
    registries = plan.rules.mapping("dnc_registries").registries
    times = tl.deliveries(plan, 14, 0, 30)
    c = pop.customers
    for reg, spec in registries.items():
        ours = (
            pl.concat(
                [
                    c.filter(pl.col("country") == spec.country).select(
                        pl.col("mobile_plan").alias("plan"), pl.col("mobile_nsn").alias("nsn")
                    ),
                    c.filter(pl.col("country") == spec.country).select(
                        pl.col("home_plan").alias("plan"), pl.col("home_nsn").alias("nsn")
                    ),
                ]
            )
            .drop_nulls()
            .unique(maintain_order=True)
        )
        ours = ours.filter(pl.Series(rng.random(ours.height) < 0.08))
        extra_n = plan.n("registry_extra")
        e_plan, e_nsn = phones.draw(rng, pl.Series([spec.country] * extra_n, dtype=pl.String), "landline")
        listed = pl.concat([ours, pl.DataFrame({"plan": e_plan, "nsn": e_nsn}).drop_nulls()])
        n = listed.height
        since = np.where(rng.random(n) < 0.9, -1, rng.integers(0, times.size, n))
        until = np.where(rng.random(n) < 0.05, rng.integers(0, times.size, n), times.size)
        lines = phones.registry_line(listed, "plan", "nsn", spec.layout, rng)
        listed = listed.with_columns(lines.alias("line"), pl.Series("since", since), pl.Series("until", until))
        for i, when in enumerate(times):
            part = listed.filter((pl.col("since") <= i) & (pl.col("until") > i))["line"]
            if i == 0 and reg == next(iter(registries)):
                part = pl.concat([part, pl.Series(["41X,55501"])])
                land.report.add_bad("dnc_registries", "bad_registry_line", 1)
            land.lines("dnc_registries", delivery_name(int(when)), f"{reg}/{reg}_{day_stamp(int(when))}.txt", part)
