"""Back-office feeds: the CRM customer export, Salesforce consent, billing transactions, the legacy flags file,
send logs and privacy-portal erasure requests (feeds.md §1, 2, 10, 13, 14, 15)."""

from __future__ import annotations

import numpy as np
import polars as pl

from consent_pipeline.generate import timeline as tl
from consent_pipeline.generate.fmt import (
    DAY,
    HOUR,
    ISO_Z,
    SF_OFFSET,
    choice,
    day_stamp,
    delivery_name,
    hex_ids,
    jlist,
    jobj,
    jstr,
    money,
    strftime,
)
from consent_pipeline.generate.landing import Landing
from consent_pipeline.generate.people import Population
from consent_pipeline.generate.plan import Plan
from consent_pipeline.generate.variants import broken_phone, corrupt, e164, typed_email, typed_phone
from consent_pipeline.generate.world import COUNTRIES

IMPOSSIBLE_ISO = "2026-02-30T10:00:00Z"


def _one_brand(rng: np.random.Generator, brands: pl.Series) -> pl.Series:
    """One of each row's brands."""
    frame = pl.DataFrame({"b": brands, "u": rng.random(brands.len())})
    return frame.select(pl.col("b").list.get((pl.col("u") * pl.col("b").list.len()).floor().cast(pl.Int64))).to_series()


def _report_bad(land: Landing, source: str, bad: pl.Series) -> None:
    for kind, count in bad.drop_nulls().value_counts().iter_rows():
        land.report.add_bad(source, kind, count)


# --- customer_master ------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = [
    "customer_id",
    "household_id",
    "is_primary_holder",
    "first_name",
    "last_name",
    "email",
    "mobile_phone",
    "home_phone",
    "address_line1",
    "city",
    "state_province",
    "postal_code",
    "country",
    "customer_type",
    "brands",
    "created_at",
    "updated_at",
]


def customer_master(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("customer_master")
    c = pop.customers
    n = c.height
    times = tl.deliveries(plan, 7, 1)
    # Customers created inside the window appear first in a delta (events may name them earlier: waiting).
    new = rng.random(n) < 0.03
    created_new = tl.event_times(rng, n, plan.start, int(times[-1]))
    c = c.with_columns(
        pl.Series("new", new),
        pl.when(pl.Series(new)).then(pl.Series(created_new)).otherwise(pl.col("created_at")).alias("created_at"),
        pl.when(pl.Series(new)).then(pl.Series(created_new)).otherwise(pl.col("updated_at")).alias("updated_at"),
    )
    full = c.filter(~pl.col("new")).with_columns(pl.lit(0, pl.Int64).alias("d"))
    # Deltas: new customers, and updates (a new email, another brand) of existing ones.
    k = plan.n("crm_updates")
    upd_rows = rng.integers(0, n, k)
    upd = c.gather(upd_rows).filter(~pl.col("new"))
    upd_ts = tl.event_times(rng, upd.height, plan.start, int(times[-1]))
    change_email = rng.random(upd.height) < 0.25
    upd = upd.with_columns(
        pl.Series("updated_at", upd_ts),
        pl.when(pl.Series(change_email))
        .then(pl.col("email").str.replace("@", ".new@", literal=True))
        .otherwise(pl.col("email"))
        .alias("email"),
    )
    news = c.filter(pl.col("new"))
    delta = pl.concat([upd, news])
    idx, _ = tl.assign(rng, delta["updated_at"].to_numpy(), times, late_share=0.0)
    delta = delta.with_columns(pl.Series("d", idx, dtype=pl.Int64))
    rows = pl.concat([full, delta])
    bad = tl.bad_kinds(rng, rows.height, {"missing_fields": 0.0008, "invalid_phone": 0.0015})
    out = rows.with_columns(bad).select(
        "d",
        "bad",
        pl.col("customer_id"),
        pl.col("household_id").fill_null(""),
        pl.when(pl.col("is_primary")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("is_primary_holder"),
        pl.col("first").alias("first_name"),
        pl.col("last").alias("last_name"),
        typed_email(rng, rows["email"]).alias("email"),
        corrupt(
            typed_phone(rng, rows).fill_null(""), "bad", "invalid_phone", pl.lit(broken_phone(rows.height, rng))
        ).alias("mobile_phone"),
        typed_phone(rng, rows, "home_plan", "home_nsn").fill_null("").alias("home_phone"),
        pl.col("line1").alias("address_line1"),
        "city",
        pl.col("state").alias("state_province"),
        pl.col("postcode").alias("postal_code"),
        "country",
        "customer_type",
        pl.col("brands").list.join(";").alias("brands"),
        strftime("created_at", ISO_Z).alias("created_at"),
        strftime("updated_at", ISO_Z).alias("updated_at"),
    )
    for i, (when, part) in enumerate(tl.groups(out, times)):
        d = delivery_name(when)
        body = part.drop("d", "bad")
        short = np.flatnonzero((part["bad"] == "missing_fields").fill_null(False).to_numpy())
        if i == 2:  # a CRM upgrade: a column of its own, columns in another order
            body = body.with_columns(pl.lit("silver").alias("loyalty_tier")).select(
                ["loyalty_tier", *reversed(CUSTOMER_COLUMNS)]
            )
        cut = land.csv(
            "customer_master",
            d,
            f"customers_{day_stamp(when)}.csv",
            body,
            bom=(i == 1),
            cp1252=(i == 3),
            short_rows=short,
        )
        land.report.add_bad("customer_master", "missing_fields", cut)
    land.report.add_bad("customer_master", "invalid_phone", int((out["bad"] == "invalid_phone").sum()))
    land.report.customers = n
    land.report.households = pop.households


# --- transactions -------------------------------------------------------------------------------------------

TXN_TYPES = ["purchase", "inquiry", "contract_start", "contract_end", "cancellation"]


def transactions(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("transactions")
    c = pop.customers
    k = plan.n("transactions")
    # Some customers buy often, most now and then: a skewed pick.
    who = np.minimum((rng.pareto(1.2, k) * c.height / 8).astype(np.int64), c.height - 1)
    who = rng.permutation(c.height)[who]
    people = c.gather(who)
    times = tl.deliveries(plan, 7, 2)
    in_window = rng.random(k) < 0.15
    ts = np.where(
        in_window,
        tl.event_times(rng, k, plan.start, int(times[-1])),
        tl.event_times(rng, k, plan.history_start, int(times[0])),
    )
    idx, _ = tl.assign(rng, ts, times, late_share=0.01)
    bad = tl.bad_kinds(rng, k, {"bad_timestamp": 0.0005, "future_timestamp": 0.0005})
    currency = people["country"].replace_strict({code: v.currency for code, v in COUNTRIES.items()})
    frame = pl.DataFrame(
        {
            "d": idx,
            "txn_id": "T" + pl.Series(np.arange(1, k + 1) + 7_000_000).cast(pl.String),
            "customer_id": people["customer_id"],
            "brand": _one_brand(rng, people["brands"]),
            "txn_type": choice(rng, TXN_TYPES, k, [0.72, 0.1, 0.08, 0.05, 0.05]),
            "ts": ts,
            "amount": pl.Series(rng.integers(500, 50_000, k)),
            "currency": currency,
            "bad": bad,
        }
    ).with_columns(pl.Series("dts", times[idx]))
    frame = frame.with_columns(
        corrupt(strftime("ts", ISO_Z), "bad", "bad_timestamp", pl.lit(IMPOSSIBLE_ISO))
        .pipe(lambda e: corrupt(e, "bad", "future_timestamp", strftime(pl.col("dts") + 3 * DAY, ISO_Z)))
        .alias("occurred_at"),
        money(pl.col("amount")).alias("amount"),
    )
    _report_bad(land, "transactions", bad)
    cols = ["txn_id", "customer_id", "brand", "txn_type", "occurred_at", "amount", "currency"]
    for when, part in tl.groups(frame, times):
        land.csv("transactions", delivery_name(when), f"transactions_{day_stamp(when)}.csv", part.select(cols))
    # A backfill dropped into a folder that is not a delivery name: reported, not read.
    sample = frame.head(min(5, k)).select(cols)
    for name in ("transactions_backfill_a.csv", "transactions_backfill_b.csv"):
        land.csv("transactions", "backfill-2026-02", name, sample)
    land.report.add_bad("transactions", "bad_delivery_name", 2)


# --- legacy -----------------------------------------------------------------------------------------------

FLAGS = ["NO_EMAIL", "NO_PHONE", "NO_MAIL", "DPA_NO_MARKETING", "DPA_NO_FOLLOWUP"]
FLAG_SHARES = [0.05, 0.05, 0.04, 0.08, 0.03]


def legacy(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("legacy")
    c = pop.customers
    codes = {brand: code for code, brand in plan.rules.mapping("legacy").brand_codes.items()}
    k_mig = min(plan.n("legacy_migration"), c.height)
    k_str = max(plan.n("legacy_stragglers"), 8)
    migration_at = plan.as_of - 130 * DAY + 3 * HOUR
    straggler_times = tl.deliveries(plan, 14, 3, 30)
    who = np.concatenate([rng.choice(c.height, k_mig, replace=False), rng.integers(0, c.height, k_str)])
    people = c.gather(who)
    n = people.height
    d = np.concatenate([np.full(k_mig, -1), rng.integers(0, straggler_times.size, k_str)])
    flag_day = np.where(
        d < 0,
        migration_at - rng.integers(30, 3000, n) * DAY,
        straggler_times[np.maximum(d, 0)] - rng.integers(1, 20, n) * DAY,
    )
    bad = tl.bad_kinds(rng, n, {"missing_customer_id": 0.0005})
    flags = {f: np.where(rng.random(n) < s, "Y", "N") for f, s in zip(FLAGS, FLAG_SHARES, strict=True)}
    recs = pl.DataFrame(
        {
            "d": d,
            "acct": np.arange(1, n + 1) * 7 + 3_000_000,
            "flag_day": flag_day,
            "bad": bad,
            "cid": people["customer_id"],
            "brand": _one_brand(rng, people["brands"]),
            **flags,
        }
    )
    recs = recs.with_columns(
        pl.concat_str(
            [
                pl.lit("DTL"),
                pl.col("acct").cast(pl.String).str.zfill(10),
                pl.when(pl.col("bad") == "missing_customer_id")
                .then(pl.lit(""))
                .otherwise(pl.col("cid"))
                .str.pad_end(10),
                *[pl.col(f) for f in FLAGS],
                strftime("flag_day", "%d%m%Y"),
                pl.col("brand").replace_strict(codes, default=next(iter(codes.values()))),
            ]
        ).alias("line")
    )
    _report_bad(land, "legacy", bad)

    def write(when: int, lines: pl.Series, trailer_count: int | None = None) -> None:
        count = lines.len() if trailer_count is None else trailer_count
        trailer = pl.Series([f"TRL{count:010d}"])
        name = f"LEGACY_FLAGS_{day_stamp(when)}.DAT"
        land.lines("legacy", delivery_name(when), name, pl.concat([lines, trailer]), eol="\r\n")

    write(migration_at, recs.filter(pl.col("d") < 0)["line"])
    stragglers = recs.filter(pl.col("d") >= 0)
    for i, (when, part) in enumerate(tl.groups(stragglers, straggler_times)):
        wrong = i == 1  # one file whose trailer does not match its records: all of it is quarantined
        write(when, part["line"], part.height + 1 if wrong else None)
        if wrong:
            land.report.add_bad("legacy", "trailer_mismatch", part.height + 1)


# --- salesforce_consent -------------------------------------------------------------------------------------

SF_INDIVIDUAL = ["Id", "CustomerId__c", "HasOptedOutSolicit", "ShouldForget", "LastModifiedDate"]
SF_CONSENT = [
    "Id",
    "Name",
    "PartyId",
    "ContactPointType",
    "EngagementChannelType",
    "DataUsePurpose",
    "BusinessBrand",
    "PrivacyConsentStatus",
    "CaptureDate",
    "CaptureSource",
    "CaptureContactPointType",
    "DoubleConsentCaptureDate",
    "EffectiveFrom",
    "EffectiveTo",
    "LastModifiedDate",
]


def salesforce_consent(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("salesforce_consent")
    m = plan.rules.mapping("salesforce_consent")
    c = pop.customers
    n_ind = min(plan.n("sf_individuals"), c.height)
    ind = c.gather(rng.choice(c.height, n_ind, replace=False)).with_columns(
        ("0PK" + hex_ids(rng, n_ind, 8).str.to_uppercase().str.slice(0, 15)).alias("ind_id")
    )
    k = plan.n("sf_consents")
    times = tl.deliveries(plan, 7, 4)
    owner = ind.gather(rng.integers(0, n_ind, k))
    ts = tl.event_times(rng, k, plan.start - 20 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times)
    # Salesforce's own names for contact-point types and channels, as the mapping in rules/ lists them.
    channel_type = plan.rules.channel_type
    cpt_names = list(m.contact_point_types)
    cpt = choice(rng, cpt_names, k)
    chan = pl.Series("chan", [""] * k, dtype=pl.String)
    for name, kind in m.contact_point_types.items():  # a loop over the few contact-point types
        rows = np.flatnonzero((cpt == name).to_numpy())
        names = [e for e, ch in m.engagement_channels.items() if channel_type.get(ch) == kind]
        if rows.size and names:
            chan = chan.scatter(rows, choice(rng, [*names, ""], rows.size))  # blank: every channel of the type
    display = {b: spec.display_name for b, spec in plan.rules.company.brands.items()}
    brand = _one_brand(rng, owner["brands"]).replace_strict(display)
    # nobody opts in or out of what cannot be opted out of (bills)
    required = {p for p, d in plan.rules.company.purposes.items() if not d.opt_out_allowed}
    purposes = [name for name, p in m.data_use_purposes.items() if p not in required]
    bad = tl.bad_kinds(rng, k, {"bad_timestamp": 0.001, "unmapped_purpose": 0.001})
    effective_to = ts + rng.integers(90, 720, k) * DAY
    frame = pl.DataFrame(
        {
            "d": idx,
            "bad": bad,
            "Id": "0cC" + hex_ids(rng, k, 8).str.to_uppercase().str.slice(0, 15),
            "PartyId": owner["ind_id"],
            "ContactPointType": cpt,
            "EngagementChannelType": chan,
            "DataUsePurpose": choice(rng, purposes, k),
            "BusinessBrand": pl.DataFrame({"b": brand, "u": rng.random(k)})
            .select(pl.when(pl.col("u") < 0.15).then(pl.lit("")).otherwise(pl.col("b")))
            .to_series(),
            "PrivacyConsentStatus": choice(rng, ["OptIn", "OptOut", "Seen", "NotSeen"], k, [0.45, 0.33, 0.12, 0.1]),
            "ts": ts,
            "CaptureSource": choice(rng, ["Web", "Call Center", "Email", "Store"], k, [0.5, 0.2, 0.2, 0.1]),
            "eto": effective_to,
            "has_eto": rng.random(k) < 0.12,
            "iso": rng.random(k) < 0.3,
        }
    )
    stamp = pl.when(pl.col("iso")).then(strftime("ts", ISO_Z)).otherwise(strftime("ts", SF_OFFSET))
    frame = frame.with_columns(
        pl.concat_str([pl.col("DataUsePurpose"), pl.lit(" / "), pl.col("ContactPointType")]).alias("Name"),
        # A Seen/NotSeen row is skipped before anything else is checked: the bad rows carry a decision.
        pl.when(pl.col("bad").is_not_null())
        .then(pl.lit("OptIn"))
        .otherwise(pl.col("PrivacyConsentStatus"))
        .alias("PrivacyConsentStatus"),
        corrupt(pl.col("DataUsePurpose"), "bad", "unmapped_purpose", pl.lit("Loyalty Club")).alias("DataUsePurpose"),
        corrupt(stamp, "bad", "bad_timestamp", pl.lit("2026-02-31T10:00:00.000+0000")).alias("CaptureDate"),
        pl.col("ContactPointType").alias("CaptureContactPointType"),
        pl.lit("").alias("DoubleConsentCaptureDate"),
        stamp.alias("EffectiveFrom"),
        pl.when(pl.col("has_eto")).then(strftime("eto", SF_OFFSET)).otherwise(pl.lit("")).alias("EffectiveTo"),
        strftime(pl.col("ts") + 120, SF_OFFSET).alias("LastModifiedDate"),
    )
    _report_bad(land, "salesforce_consent", bad)
    # "Don't Market" and forget flags set on some individuals during the window.
    ind = ind.with_columns(
        pl.Series("dont_market", rng.random(n_ind) < 0.03),
        pl.Series("forget", rng.random(n_ind) < 0.002),
        pl.Series("ind_ts", tl.event_times(rng, n_ind, plan.start - 30 * DAY, plan.start)),
    )
    for i, (when, part) in enumerate(tl.groups(frame, times)):
        d = delivery_name(when)
        stamp_day = day_stamp(when)
        people = ind.filter(pl.col("ind_id").is_in(part["PartyId"].unique().implode()))
        individuals = people.select(
            pl.col("ind_id").alias("Id"),
            pl.col("customer_id").alias("CustomerId__c"),
            pl.when(pl.col("dont_market")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("HasOptedOutSolicit"),
            pl.when(pl.col("forget")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("ShouldForget"),
            strftime("ind_ts", SF_OFFSET).alias("LastModifiedDate"),
        )
        consents = part.select(SF_CONSENT)
        if i % 3 == 1:  # newer Data Loader exports add system columns
            consents = consents.with_columns(
                pl.lit("false").alias("IsDeleted"), pl.col("LastModifiedDate").alias("SystemModstamp")
            )
        land.csv(
            "salesforce_consent",
            d,
            f"Individual_{stamp_day}.csv",
            individuals,
            quote_style="always",
            header_quotes="all",
        )
        land.csv(
            "salesforce_consent",
            d,
            f"ContactPointTypeConsent_{stamp_day}.csv",
            consents,
            quote_style="always",
            header_quotes="all",
        )


# --- sends ---------------------------------------------------------------------------------------------


def sends(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("sends")
    c = pop.customers
    k = plan.n("sends_campaign") + plan.n("sends_service")
    times = tl.deliveries(plan, 7, 5)
    people = c.gather(rng.integers(0, c.height, k))
    # Campaign sends carry their campaign's brand, channel and purpose; service sends are account notices.
    camps = [(cid, cp.brand, cp.channel, cp.purpose) for cid, cp in plan.rules.campaigns.items()]
    camp = pl.DataFrame(camps, schema=["campaign_id", "c_brand", "c_channel", "c_purpose"], orient="row")
    pick = camp.gather(rng.integers(0, camp.height, k))
    service = rng.random(k) < plan.n("sends_service") / max(k, 1)
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times, late_share=0.0)
    bad = tl.bad_kinds(rng, k, {"bad_timestamp": 0.0005})
    channel_type = plan.rules.channel_type
    service_purpose = next(
        (p for p, d in plan.rules.company.purposes.items() if d.kind == "transactional" and d.opt_out_allowed),
        plan.rules.leaf_purposes[0],
    )
    frame = (
        pl.concat(
            [pick, people.select("email", "line1", "city", "postcode", "country", "brands", phone=e164(people))],
            how="horizontal",
        )
        .with_columns(
            pl.Series("d", idx),
            bad,
            pl.Series("ts", ts),
            pl.Series("service", service),
            ("SND" + pl.Series(np.arange(1, k + 1) + 10_000_000).cast(pl.String)).alias("send_id"),
            _one_brand(rng, people["brands"]).alias("own_brand"),
            choice(rng, ["email", "sms"], k, [0.8, 0.2]).alias("svc_channel"),
        )
        .with_columns(
            pl.when(pl.col("service")).then(pl.col("svc_channel")).otherwise(pl.col("c_channel")).alias("channel"),
            pl.when(pl.col("service")).then(pl.col("own_brand")).otherwise(pl.col("c_brand")).alias("brand"),
            pl.when(pl.col("service")).then(pl.lit("")).otherwise(pl.col("campaign_id")).alias("campaign_id"),
            pl.when(pl.col("service")).then(pl.lit(service_purpose)).otherwise(pl.col("c_purpose")).alias("purpose"),
        )
        .with_columns(
            pl.col("channel").replace_strict(channel_type, default=None, return_dtype=pl.String).alias("cpt"),
        )
        .with_columns(
            pl.when(pl.col("cpt") == "email")
            .then(pl.col("email"))
            .when(pl.col("cpt") == "phone")
            .then(pl.col("phone"))
            .when(pl.col("cpt") == "postal")
            .then(
                pl.concat_str([pl.col("line1"), pl.col("city"), pl.col("postcode"), pl.col("country")], separator=", ")
            )
            .alias("contact_point"),
            corrupt(strftime("ts", ISO_Z), "bad", "bad_timestamp", pl.lit(IMPOSSIBLE_ISO)).alias("sent_at"),
        )
        .filter(pl.col("contact_point").is_not_null())
    )
    _report_bad(land, "sends", frame["bad"])
    cols = ["send_id", "channel", "brand", "campaign_id", "purpose", "contact_point", "sent_at"]
    for when, part in tl.groups(frame, times):
        land.csv("sends", delivery_name(when), f"sends_{day_stamp(when)}.csv", part.select(cols))


# --- erasure_requests ---------------------------------------------------------------------------------------


def erasure_requests(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("erasure_requests")
    c = pop.customers
    k = max(plan.n("erasures"), 4)
    times = tl.deliveries(plan, 7, 6)
    people = c.gather(rng.choice(c.height, k, replace=False))
    ts = tl.event_times(rng, k, plan.start, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times, late_share=0.0)
    bad = tl.bad_kinds(rng, k, {"truncated_json": 0.01})
    reg = people["country"].replace_strict({code: v.regulation for code, v in COUNTRIES.items()})
    frame = pl.DataFrame(
        {
            "d": idx,
            "bad": bad,
            "request_id": "DSR-" + pl.Series(np.arange(1, k + 1) + 2026_0000).cast(pl.String),
            "ts": ts,
            "regulation": reg,
            "type": choice(rng, ["erasure", "access", "rectification"], k, [0.7, 0.2, 0.1]),
            "customer_id": people["customer_id"],
            "email": people["email"],
            "phone": e164(people),
        }
    )
    subject = jobj(
        [
            ("customer_id", jstr(pl.col("customer_id"))),
            ("emails", jlist(pl.concat_list([jstr(pl.col("email"))]))),
            (
                "phones",
                pl.when(pl.col("phone").is_null())
                .then(pl.lit("[]"))
                .otherwise(jlist(pl.concat_list([jstr(pl.col("phone"))]))),
            ),
        ]
    )
    line = jobj(
        [
            ("request_id", jstr(pl.col("request_id"))),
            ("received_at", jstr(strftime("ts", ISO_Z))),
            ("regulation", jstr(pl.col("regulation"))),
            ("type", jstr(pl.col("type"))),
            ("subject", subject),
        ]
    )
    frame = frame.with_columns(
        pl.when(pl.col("bad") == "truncated_json").then(line.str.slice(0, 40)).otherwise(line).alias("line")
    )
    _report_bad(land, "erasure_requests", bad)
    for when, part in tl.groups(frame, times):
        land.lines("erasure_requests", delivery_name(when), f"requests_{day_stamp(when)}.jsonl", part["line"])
