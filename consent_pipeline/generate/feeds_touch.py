"""Feeds where people state their choices: the SAP preference centre, call-centre captures, store tills and
OneTrust dealer forms (feeds.md §6, 7, 8, 9)."""

from __future__ import annotations

import numpy as np
import polars as pl

from consent_pipeline.generate import timeline as tl
from consent_pipeline.generate.feeds_crm import _one_brand, _report_bad
from consent_pipeline.generate.fmt import (
    DAY,
    ISO_MS_Z,
    ISO_Z,
    choice,
    day_stamp,
    delivery_name,
    hex_ids,
    jbool,
    jlist,
    jobj,
    jraw,
    jstr,
    local,
    strftime,
)
from consent_pipeline.generate.landing import Landing
from consent_pipeline.generate.people import Population
from consent_pipeline.generate.plan import Plan
from consent_pipeline.generate.variants import broken_email, corrupt, e164, typed_phone
from consent_pipeline.generate.world import COUNTRIES


def _nested(tree: dict, leaf: dict[str, pl.Expr], prefix: str = "") -> pl.Expr:
    """A JSON object text for a tree of ids; leaves are expressions (null: left out), empty objects are null."""
    parts = []
    for key, sub in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        value = leaf[path] if sub is None else _nested(sub, leaf, path)
        parts.append(pl.when(value.is_not_null()).then(pl.concat_str([pl.lit(f'"{key}": '), value])))
    inner = pl.concat_str(parts, separator=", ", ignore_nulls=True)
    return (
        pl.when(inner.is_null() | (inner == ""))
        .then(pl.lit(None, pl.String))
        .otherwise(pl.concat_str([pl.lit("{"), inner, pl.lit("}")]))
    )


def _tree(ids: list[str]) -> dict:
    root: dict = {}
    for sid in ids:
        node = root
        parts = sid.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = None
    return root


# --- preference_centre -----------------------------------------------------------------------------------------


def preference_centre(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("preference_centre")
    m = plan.rules.mapping("preference_centre")
    times = tl.deliveries(plan, 7, 1, 45)
    c = pop.customers
    n_full = min(plan.n("pref_accounts"), c.height)
    n_lite = min(plan.n("pref_lite_accounts"), pop.prospects.height)
    full = c.gather(rng.choice(c.height, n_full, replace=False)).select(
        "first", "last", "email", "mobile_plan", "mobile_nsn", "country", "customer_id"
    )
    lite = pop.prospects.gather(rng.choice(pop.prospects.height, n_lite, replace=False)).select(
        "first", "last", "email", "mobile_plan", "mobile_nsn", "country", pl.lit(None, pl.String).alias("customer_id")
    )
    accounts = pl.concat([full, lite]).with_columns(hex_ids(rng, n_full + n_lite, 16).alias("uid"))
    k = accounts.height + plan.n("pref_changes")
    acc = accounts.gather(
        np.concatenate([np.arange(accounts.height), rng.integers(0, accounts.height, k - accounts.height)])
    )
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times)
    bad = tl.bad_kinds(rng, k, {"truncated_json": 0.0005})
    # The malformed email: a lite account whose only identifier is broken.
    lite_rows = np.flatnonzero(acc["customer_id"].is_null().to_numpy())
    if lite_rows.size:
        pick = rng.choice(lite_rows, max(1, lite_rows.size // 2000), replace=False)
        pick = pick[bad.gather(pick).is_null().to_numpy()]
        bad = bad.scatter(pick, "invalid_email")
    f = acc.with_columns(pl.Series("d", idx), pl.Series("ts", ts), bad)
    subs, prefs = list(m.subscriptions), list(m.preferences)
    sub_leaf: dict[str, pl.Expr] = {}
    for sid in subs:
        on = pl.Series(rng.random(k) < 0.45)
        yes = pl.Series(rng.random(k) < 0.7)
        status = choice(rng, ["Confirmed", "Pending", "NotConfirmed"], k, [0.75, 0.2, 0.05])
        dbl = jobj(
            [
                ("status", jstr(pl.lit(status))),
                ("emailSentTime", jstr(strftime(pl.col("ts") + 1, ISO_MS_Z))),
                (
                    "confirmTime",
                    pl.when(pl.lit(status) == "Confirmed")
                    .then(jstr(strftime(pl.col("ts") + 700, ISO_MS_Z)))
                    .otherwise(pl.lit("null")),
                ),
            ]
        )
        channel = m.subscriptions[sid].channel
        body = jobj(
            [
                ("isSubscribed", jbool(pl.lit(yes))),
                ("lastUpdatedSubscriptionState", jstr(strftime("ts", ISO_MS_Z))),
                ("tags", pl.lit("null")),
                ("doubleOptIn", pl.when(pl.lit(yes)).then(dbl)),
            ]
        )
        sub_leaf[sid] = pl.when(pl.lit(on)).then(pl.concat_str([pl.lit(f'{{"{channel}": '), body, pl.lit("}")]))
    pref_leaf: dict[str, pl.Expr] = {}
    for pid in prefs:
        on = pl.Series(rng.random(k) < 0.3) & f["customer_id"].is_not_null()
        action_missing = pl.Series(rng.random(k) < 0.1)
        pref_leaf[pid] = pl.when(pl.lit(on)).then(
            jobj(
                [
                    ("isConsentGranted", jbool(pl.lit(pl.Series(rng.random(k) < 0.6)))),
                    ("lastConsentModified", jstr(strftime(pl.col("ts") + 2, ISO_MS_Z))),
                    (
                        "actionTimestamp",
                        pl.when(pl.lit(action_missing))
                        .then(pl.lit(None, pl.String))
                        .otherwise(jstr(strftime("ts", ISO_MS_Z))),
                    ),
                    ("docVersion", pl.lit("1.0")),
                ]
            )
        )
    subscriptions = pl.concat_str(
        [pl.when(sub_leaf[s].is_not_null()).then(pl.concat_str([pl.lit(f'"{s}": '), sub_leaf[s]])) for s in subs],
        separator=", ",
        ignore_nulls=True,
    )
    f = f.with_columns(
        typed_phone(rng, f).alias("phone_typed"),
        corrupt(pl.col("email"), "bad", "invalid_email", broken_email(pl.col("email"))).alias("email"),
    )
    phones_json = (
        pl.when(pl.col("phone_typed").is_null())
        .then(pl.lit("[]"))
        .otherwise(
            jlist(pl.concat_list([jobj([("number", jstr(pl.col("phone_typed"))), ("type", jstr(pl.lit("mobile")))])]))
        )
    )
    is_lite = pl.col("customer_id").is_null()
    line = jobj(
        [
            ("UID", jstr(pl.col("uid"))),
            ("hasLiteAccount", jbool(is_lite)),
            ("hasFullAccount", jbool(~is_lite)),
            (
                "profile",
                jobj(
                    [
                        ("email", jstr(pl.col("email"))),
                        ("firstName", jstr(pl.col("first"))),
                        ("lastName", jstr(pl.col("last"))),
                        ("country", jstr(pl.col("country"))),
                        ("phones", phones_json),
                    ]
                ),
            ),
            (
                "data",
                pl.when(is_lite).then(pl.lit("{}")).otherwise(jobj([("customerId", jstr(pl.col("customer_id")))])),
            ),
            ("lastUpdated", jstr(strftime(pl.col("ts") + 2, ISO_MS_Z))),
            ("subscriptions", pl.concat_str([pl.lit("{"), subscriptions, pl.lit("}")])),
            ("preferences", _nested(_tree(prefs), pref_leaf)),
        ]
    )
    f = f.with_columns(
        pl.when(pl.col("bad") == "truncated_json").then(line.str.slice(0, 60)).otherwise(line).alias("line")
    )
    _report_bad(land, "preference_centre", f["bad"])
    for when, part in tl.groups(f, times):
        land.lines("preference_centre", delivery_name(when), f"accounts_{day_stamp(when)}.jsonl", part["line"])


# --- call_centre -------------------------------------------------------------------------------------------------


def call_centre(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("call_centre")
    m = plan.rules.mapping("call_centre")
    times = tl.deliveries(plan, 7, 0, 20)
    c = pop.customers
    k = plan.n("call_captures")
    who = c.gather(rng.integers(0, c.height, k))
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times, late_share=0.05)  # the call centre's batches are often late
    bad = tl.bad_kinds(rng, k, {"future_timestamp": 0.0005, "unmapped_question": 0.0008})
    zones = plan.rules.company.default_timezones
    fallback = plan.rules.company.fallback_timezone
    questions = list(m.questions)
    f = who.select("customer_id", "country", "brands").with_columns(
        pl.Series("d", idx),
        pl.Series("ts", ts),
        bad,
        pl.col("country").replace_strict(zones, default=fallback, return_dtype=pl.String).alias("zone"),
        pl.Series("verified", rng.random(k) < 0.92),
        _one_brand(rng, who["brands"]).alias("brand"),
        ("CC-" + pl.Series(np.arange(1, k + 1) + 100_000).cast(pl.String)).alias("capture_id"),
        ("A" + pl.Series(rng.integers(1, 120, k)).cast(pl.String).str.zfill(3)).alias("agent_id"),
    )
    f = f.with_columns(
        pl.when(pl.col("bad") == "future_timestamp")
        .then(pl.Series(times[idx]) + 3 * DAY)
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    f = f.with_columns(local(f, "ts", "zone", "%Y-%m-%dT%H:%M:%S%:z").alias("captured_at"))
    answers = []
    n_answers = rng.integers(1, 4, k)
    unverified_yes = 0
    for j in range(3):
        q = choice(rng, questions, k)
        a = choice(rng, ["yes", "no", "skip"], k, [0.4, 0.35, 0.25])
        item = jobj([("question", jstr(pl.lit(q))), ("answer", jstr(pl.lit(a)))])
        answers.append(pl.when(pl.lit(pl.Series(n_answers > j))).then(item))
        unverified_yes += int((~f["verified"] & pl.Series(n_answers > j) & (a == "yes")).sum())
    extra = pl.when(pl.col("bad") == "unmapped_question").then(
        jobj([("question", jstr(pl.lit("fax_offers"))), ("answer", jstr(pl.lit("no")))])
    )
    f = f.with_columns(pl.concat_list([*answers, extra]).list.drop_nulls().alias("answers"))
    line = jobj(
        [
            ("capture_id", jstr(pl.col("capture_id"))),
            ("captured_at", jstr(pl.col("captured_at"))),
            ("agent_id", jstr(pl.col("agent_id"))),
            ("brand", jstr(pl.col("brand"))),
            ("customer_id", jstr(pl.col("customer_id"))),
            ("verified_identity", jbool(pl.col("verified"))),
            ("script", jstr(pl.lit("consent_update_v3"))),  # the guided script named in feeds.md §7
            ("answers", jlist(pl.col("answers"))),
        ]
    )
    f = f.with_columns(line.alias("line"))
    _report_bad(land, "call_centre", f["bad"])
    land.report.add_bad("call_centre", "unverified_opt_in", unverified_yes)
    for when, part in tl.groups(f, times):
        land.lines("call_centre", delivery_name(when), f"captures_{day_stamp(when)}.jsonl", part["line"])


# --- pos ------------------------------------------------------------------------------------------------------


def _stores(plan: Plan, rng: np.random.Generator) -> pl.DataFrame:
    n = max(plan.n("stores"), 4)
    rows = []
    brands = list(plan.rules.company.brands.items())
    for i in range(n):  # a few dozen stores: a loop over reference data, not records
        brand, spec = brands[i % len(brands)]
        countries = [c for r in spec.regions for c in plan.rules.company.regions.get(r, []) if c in COUNTRIES]
        if not countries:
            continue
        weights = np.array([COUNTRIES[c].weight for c in countries])
        country = countries[int(rng.choice(len(countries), p=weights / weights.sum()))]
        cn = COUNTRIES[country]
        zone = cn.store_zones[int(rng.integers(0, len(cn.store_zones)))]
        fmt = "MDY" if cn.date_format == "MDY" or rng.random() < cn.mdy_share else "DMY"
        rows.append((f"S-{cn.store_label or country}-{i + 1:03d}", brand, country, zone, fmt))
    return pl.DataFrame(rows, schema=["store_id", "brand", "country", "timezone", "date_format"], orient="row")


def pos(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("pos")
    stores = _stores(plan, rng)
    times = tl.deliveries(plan, 7, 3, 15)
    k = plan.n("pos_receipts")
    store = stores.gather(rng.integers(0, stores.height, k))
    people = []
    for country in store["country"].unique().sort().to_list():
        rows = np.flatnonzero((store["country"] == country).to_numpy())
        cust = pop.customers.filter(pl.col("country") == country)
        pros = pop.prospects.filter(pl.col("country") == country)
        known = rng.random(rows.size) < 0.7
        pick_c = cust.gather(rng.integers(0, max(cust.height, 1), rows.size)) if cust.height else None
        pick_p = pros.gather(rng.integers(0, max(pros.height, 1), rows.size)) if pros.height else None
        cols = ["email", "mobile_plan", "mobile_nsn"]
        part = pl.DataFrame({"row": rows})
        if pick_c is not None:
            part = part.with_columns(pick_c.select(pl.col("customer_id"), *cols).get_columns())
            if pick_p is not None:
                part = part.with_columns(
                    pl.when(pl.Series(known)).then(pl.col("customer_id")).alias("customer_id"),
                    *[pl.when(pl.Series(known)).then(pl.col(c)).otherwise(pick_p[c]).alias(c) for c in cols],
                )
        elif pick_p is not None:
            # a country with prospects but no customers (small scales)
            part = part.with_columns(pl.lit(None, pl.String).alias("customer_id"), *pick_p.select(cols).get_columns())
        else:
            part = part.with_columns(
                pl.lit(None, pl.String).alias("customer_id"),
                pl.lit(None, pl.String).alias("email"),
                pl.lit(None, pl.Int32).alias("mobile_plan"),
                pl.lit(None, pl.String).alias("mobile_nsn"),
            )
        people.append(part)
    who = pl.concat(people, how="diagonal_relaxed").sort("row")
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    ts = ts - ts % 60
    idx, _ = tl.assign(rng, ts, times)
    bad = tl.bad_kinds(rng, k, {"bad_timestamp": 0.0005})
    f = pl.concat([store, who.drop("row")], how="horizontal").with_columns(
        pl.Series("d", idx),
        pl.Series("ts", ts),
        bad,
        pl.Series("u_email", rng.random(k)),
        pl.Series("u_sms", rng.random(k)),
    )
    f = f.with_columns(
        local(f, "ts", "timezone", "%d/%m/%Y %H:%M").alias("dmy"),
        local(f, "ts", "timezone", "%m/%d/%Y %H:%M").alias("mdy"),
        typed_phone(rng, f).alias("mobile"),
    )
    f = f.with_columns(
        pl.col("store_id"),
        pl.Series(np.arange(1, k + 1) + 1000).cast(pl.String).str.zfill(6).alias("receipt_no"),
        corrupt(
            pl.when(pl.col("date_format") == "MDY").then(pl.col("mdy")).otherwise(pl.col("dmy")),
            "bad",
            "bad_timestamp",
            pl.lit("31/02/2026 12:00"),
        ).alias("txn_local_time"),
        pl.col("customer_id").fill_null(""),
        pl.when(pl.col("u_email") < 0.85).then(pl.col("email")).otherwise(pl.lit("")).fill_null("").alias("email"),
        pl.col("mobile").fill_null(""),
        pl.when(pl.col("u_email") < 0.15)
        .then(pl.lit("Y"))
        .when(pl.col("u_email") < 0.6)
        .then(pl.lit("N"))
        .otherwise(pl.lit(""))
        .alias("marketing_optin_email"),
        pl.when(pl.col("u_sms") < 0.1)
        .then(pl.lit("Y"))
        .when(pl.col("u_sms") < 0.5)
        .then(pl.lit("N"))
        .otherwise(pl.lit(""))
        .alias("marketing_optin_sms"),
        (pl.Series(rng.integers(300, 40_000, k)) / 100).round(2).cast(pl.String).alias("amount"),
        pl.col("country").replace_strict({c: v.currency for c, v in COUNTRIES.items()}).alias("currency"),
    )
    _report_bad(land, "pos", f["bad"])
    cols = [
        "store_id",
        "receipt_no",
        "txn_local_time",
        "customer_id",
        "email",
        "mobile",
        "marketing_optin_email",
        "marketing_optin_sms",
        "amount",
        "currency",
    ]
    for when, part in tl.groups(f, times):
        d = delivery_name(when)
        land.csv("pos", d, "stores.csv", stores)
        land.csv("pos", d, f"receipts_{day_stamp(when)}.csv", part.select(cols))


# --- onetrust ---------------------------------------------------------------------------------------------------

PURPOSE_TX = ["CONFIRMED", "WITHDRAWN", "NOTGIVEN", "PENDING", "EXPIRED", "OPT_OUT"]
PURPOSE_TX_W = [0.6, 0.12, 0.1, 0.06, 0.06, 0.06]


def onetrust(plan: Plan, pop: Population, land: Landing) -> None:
    rng = plan.rng("onetrust")
    m = plan.rules.mapping("onetrust")
    regions = plan.rules.company.brands[m.brand].regions
    times = tl.deliveries(plan, 7, 2, 40)
    k = plan.n("onetrust_receipts")
    cust = pop.customers.filter(pl.col("brands").list.contains(m.brand)).select(
        "first", "last", "email", "mobile_plan", "mobile_nsn", "country", "customer_id"
    )
    pros = pop.prospects.filter(pl.col("region").is_in(regions)).select(
        "first", "last", "email", "mobile_plan", "mobile_nsn", "country", pl.lit(None, pl.String).alias("customer_id")
    )
    # Dealer web forms: mostly the dealers' own customers, some new prospects.
    from_cust = rng.random(k) < (0.8 if pros.height else 1.0)
    n_c = int(from_cust.sum())
    who = pl.concat(
        [
            cust.gather(rng.integers(0, cust.height, n_c)),
            pros.gather(rng.integers(0, max(pros.height, 1), k - n_c)) if k - n_c else cust.head(0),
        ]
    )
    ts = tl.event_times(rng, k, plan.start - 7 * DAY, int(times[-1]))
    idx, _ = tl.assign(rng, ts, times)
    bad = tl.bad_kinds(rng, k, {"invalid_email": 0.0005, "unmapped_purpose": 0.0005})
    by_phone = pl.Series(rng.random(k) < 0.2) & who["mobile_nsn"].is_not_null()
    f = who.with_columns(
        pl.Series("d", idx),
        pl.Series("ts", ts),
        bad,
        by_phone.alias("by_phone"),
        e164(who).alias("e164"),
        hex_ids(rng, k, 6).alias("rid"),
    )
    f = f.with_columns(
        pl.when(pl.col("by_phone") & (pl.col("bad") != "invalid_email").fill_null(True))
        .then(pl.col("e164"))
        .otherwise(corrupt(pl.col("email"), "bad", "invalid_email", broken_email(pl.col("email"))))
        .alias("identifier"),
        pl.when(pl.col("by_phone") & (pl.col("bad") != "invalid_email").fill_null(True))
        .then(pl.lit("Phone"))
        .otherwise(pl.lit("Email"))
        .alias("identifierType"),
    )
    pids = list(m.purposes)
    topics = list(m.topics)
    purposes = []
    n_p = rng.integers(1, 3, k)
    for j in range(2):
        pid = choice(rng, pids, k)
        if j == 0:
            pid = (
                pl.DataFrame({"p": pid, "b": f["bad"]})
                .select(
                    pl.when(pl.col("b") == "unmapped_purpose")
                    .then(pl.lit("6f1f5c8e-dead-4000-8000-00000000beef"))
                    .otherwise(pl.col("p"))
                )
                .to_series()
            )
        tx = choice(rng, PURPOSE_TX, k, PURPOSE_TX_W)
        with_topics = pl.Series(rng.random(k) < 0.3)
        t1, t2 = choice(rng, topics, k), choice(rng, topics, k)
        v1, v2 = choice(rng, ["OPT_IN", "OPT_OUT"], k), choice(rng, ["OPT_IN", "OPT_OUT"], k)
        prefs = (
            pl.when(pl.lit(with_topics))
            .then(
                jlist(
                    pl.concat_list(
                        [
                            jobj([("TopicId", jstr(pl.lit(t1))), ("TransactionType", jstr(pl.lit(v1)))]),
                            pl.when(pl.lit(t2) != pl.lit(t1)).then(
                                jobj([("TopicId", jstr(pl.lit(t2))), ("TransactionType", jstr(pl.lit(v2)))])
                            ),
                        ]
                    ).list.drop_nulls()
                )
            )
            .otherwise(pl.lit("[]"))
        )
        item = jobj(
            [
                ("Id", jstr(pl.lit(pid))),
                ("Version", jraw(pl.lit(3))),
                ("TransactionType", jstr(pl.lit(tx))),
                ("Preferences", prefs),
            ]
        )
        purposes.append(pl.when(pl.lit(pl.Series(n_p > j))).then(item))
    line = jobj(
        [
            ("receiptId", jstr(pl.concat_str([pl.lit("r-"), pl.col("rid")]))),
            ("identifier", jstr(pl.col("identifier"))),
            ("identifierType", jstr(pl.col("identifierType"))),
            ("interactionDate", jstr(strftime("ts", ISO_Z))),
            ("consentDate", jstr(strftime("ts", ISO_Z))),
            ("collectionPointId", jstr(pl.lit("cp-dealer-web"))),
            ("language", jstr(pl.lit("en"))),
            ("geoLocation", jobj([("country", jstr(pl.col("country")))])),
            (
                "dsDataElements",
                jobj(
                    [
                        ("FirstName", jstr(pl.col("first"))),
                        ("LastName", jstr(pl.col("last"))),
                        ("Phone", jstr(pl.col("e164").fill_null(""))),
                        ("CustomerId", jstr(pl.col("customer_id").fill_null(""))),
                    ]
                ),
            ),
            ("purposes", jlist(pl.concat_list(purposes).list.drop_nulls())),
        ]
    )
    f = f.with_columns(line.alias("line"))
    _report_bad(land, "onetrust", f["bad"])
    for when, part in tl.groups(f, times):
        land.json_array("onetrust", delivery_name(when), f"receipts_{day_stamp(when)}.json", part["line"])
