"""SAP Customer Data Cloud accounts export (feeds.md §6): `accounts_*.jsonl`, one account a line.

Two kinds of statement live on an account, and each becomes consent events:
- `subscriptions.<id>.<channel>` (ids may contain dots): `isSubscribed=false` is an opt-out at
  `lastUpdatedSubscriptionState`; `isSubscribed=true` with `doubleOptIn.status` `Confirmed` an opt-in at
  `confirmTime` (double opt-in), with `Pending` / `NotConfirmed` a `pending` consent at
  `lastUpdatedSubscriptionState`, with no status a plain opt-in at `lastUpdatedSubscriptionState`.
- `preferences.<a>.<b>...` down to the objects holding `isConsentGranted` (the statement id is the path
  joined with dots): granted is an opt-in, not granted an opt-out, at `actionTimestamp`, falling back to
  `lastConsentModified` only when `actionTimestamp` is missing.
Ids are mapped to channel / brand / purpose by `rules/mappings/preference_centre.yaml`.

Subjects: an email statement is the profile's email; an sms / voice one each `mobile` phone of the profile
(region = profile country), or with none the customer (`data.customerId`, party-level); a `*` channel one
the customer (party-level), or with no customer the account's email and every phone; any other channel
(mail, door, push: the account holds no such contact point) the customer. Contact-point events carry the
customer id too when there is one. A statement with no subject is a rejected part (`no_contact_point`);
an email statement on an account without an email is never widened to the customer's other addresses.

Facts: a subject profile per account; a review per account with a customer id (every capture counts, even
one that changes nothing), dated `lastUpdated` or, without a readable one, the latest statement time; a
confirmed double opt-in of a customer is `double_opt_in` evidence for the email; a full account (it has a
login) tied to a customer id is `account_login` evidence for its email at `lastUpdated` (semantics §3
rule 1: "a preference-centre account whose login email it is, tied to a customer id"). A lite account
(no customer) with no statement yields nothing and is skipped (`no_decision`).
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import ChannelBrandPurpose
from source_connectors._common import (
    field,
    parse_files,
    reject_where,
    skip_records,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_json

SOURCE = "preference_centre"
KIND = "accounts"  # its file patterns: rules/files.yaml

# SAP CDC's own vocabulary (the product's, not the company's).
CONFIRMED = "confirmed"
UNCONFIRMED = ("pending", "notconfirmed")
GRANTED = "isConsentGranted"
MOBILE = "mobile"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")
# One row per statement (subscription channel object or preference) of an account.
PART_SCHEMA = {
    REC: pl.Int64(),
    "kind": pl.String(),  # subscription | preference
    "stmt": pl.String(),  # the statement id (subscription id / preference path)
    "stmt_channel": pl.String(),  # the channel object a subscription was under
    "value": pl.String(),  # isSubscribed / isConsentGranted as text
    "doi_status": pl.String(),
    "time_field": pl.String(),  # which field dates the statement
    "time_text": pl.String(),
}


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, read_json, _accounts)



# --- reading the nested JSON ---------------------------------------------------------------------


def _at(expr: pl.Expr, dtype: pl.DataType, *path: str) -> pl.Expr:
    """A scalar below `expr` (of type `dtype`) as text; null when the schema has no such scalar."""
    for name in path:
        fields = {f.name: f.dtype for f in dtype.fields} if isinstance(dtype, pl.Struct) else {}
        if name not in fields:
            return pl.lit(None, pl.String)
        expr, dtype = expr.struct.field(name), fields[name]
    if isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
        return pl.lit(None, pl.String)
    return expr.cast(pl.String, strict=False)


def _subscription_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per subscription id and channel object present on an account."""
    root = frame.schema.get("subscriptions")
    pieces = []
    for sub in root.fields if isinstance(root, pl.Struct) else []:
        channels = sub.dtype.fields if isinstance(sub.dtype, pl.Struct) else []
        for ch in channels:
            obj = pl.col("subscriptions").struct.field(sub.name).struct.field(ch.name)
            # Only a subscribed, confirmed subscription is dated by its confirmation.
            subscribed = _at(obj, ch.dtype, "isSubscribed").str.strip_chars().str.to_lowercase() == "true"
            status = _at(obj, ch.dtype, "doubleOptIn", "status").str.strip_chars().str.to_lowercase()
            confirmed = (subscribed & (status == CONFIRMED)).fill_null(False)
            when_field = (
                pl.when(confirmed)
                .then(pl.lit("confirmTime"))
                .otherwise(pl.lit("lastUpdatedSubscriptionState"))
            )
            pieces.append(
                frame.filter(obj.is_not_null()).select(
                    REC,
                    pl.lit("subscription").alias("kind"),
                    pl.lit(sub.name).alias("stmt"),
                    pl.lit(ch.name).alias("stmt_channel"),
                    _at(obj, ch.dtype, "isSubscribed").alias("value"),
                    _at(obj, ch.dtype, "doubleOptIn", "status").alias("doi_status"),
                    pl.format(f"subscriptions.{sub.name}.{ch.name}.{{}}", when_field).alias("time_field"),
                    pl.when(confirmed)
                    .then(_at(obj, ch.dtype, "doubleOptIn", "confirmTime"))
                    .otherwise(_at(obj, ch.dtype, "lastUpdatedSubscriptionState"))
                    .alias("time_text"),
                )
            )
    return pl.concat(pieces) if pieces else pl.DataFrame(schema=PART_SCHEMA)


def _statement_paths(
    dtype: pl.DataType, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], pl.Struct]]:
    """The paths (in the frame's schema) of the preference objects holding `isConsentGranted`."""
    if not isinstance(dtype, pl.Struct):
        return []
    if path and GRANTED in {f.name for f in dtype.fields}:
        return [(path, dtype)]
    return [found for f in dtype.fields for found in _statement_paths(f.dtype, (*path, f.name))]


def _preference_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per preference (consent statement) present on an account."""
    pieces = []
    for path, dtype in _statement_paths(frame.schema.get("preferences", pl.Null())):
        obj = pl.col("preferences")
        for name in path:
            obj = obj.struct.field(name)
        stmt = ".".join(path)
        action, modified = (
            text(_at(obj, dtype, "actionTimestamp")),
            text(_at(obj, dtype, "lastConsentModified")),
        )
        pieces.append(
            frame.filter(obj.is_not_null()).select(
                REC,
                pl.lit("preference").alias("kind"),
                pl.lit(stmt).alias("stmt"),
                pl.lit(None, pl.String).alias("stmt_channel"),
                _at(obj, dtype, GRANTED).alias("value"),
                pl.lit(None, pl.String).alias("doi_status"),
                # the user's action time; the server's time only when the action time is missing
                pl.when(action.is_not_null())
                .then(pl.lit(f"preferences.{stmt}.actionTimestamp"))
                .otherwise(pl.lit(f"preferences.{stmt}.lastConsentModified"))
                .alias("time_field"),
                pl.coalesce(action, modified).alias("time_text"),
            )
        )
    return pl.concat(pieces) if pieces else pl.DataFrame(schema=PART_SCHEMA)


def _accounts_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per account: who it is, and the time of the account as a whole."""
    return frame.select(
        REC,
        text(field(frame, "UID")).alias("uid"),
        text(field(frame, "data.customerId")).alias("party_id"),
        text(field(frame, "profile.email")).alias("email"),
        text(field(frame, "profile.country")).str.to_uppercase().alias("country"),
        text(field(frame, "profile.firstName")).alias("first_name"),
        text(field(frame, "profile.lastName")).alias("last_name"),
        (text(field(frame, "hasFullAccount")).str.to_lowercase() == "true").fill_null(False).alias("full"),
        text(field(frame, "lastUpdated")).alias("updated_text"),
    ).with_columns(iso8601(pl.col("updated_text")).alias("updated_ts"))


def _phones(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per profile phone with a number: source_record, number, mobile (bool), in order."""
    profile = frame.schema.get("profile")
    fields = {f.name: f.dtype for f in profile.fields} if isinstance(profile, pl.Struct) else {}
    phones = fields.get("phones")
    if not isinstance(phones, pl.List) or not isinstance(phones.inner, pl.Struct):
        return pl.DataFrame(schema={REC: pl.Int64, "number": pl.String, "mobile": pl.Boolean})
    one = pl.col("phone")
    return (
        frame.select(REC, pl.col("profile").struct.field("phones").alias("phone"))
        .explode("phone")
        .select(
            REC,
            text(_at(one, phones.inner, "number")).alias("number"),
            (text(_at(one, phones.inner, "type")).str.to_lowercase() == MOBILE)
            .fill_null(False)
            .alias("mobile"),
        )
        .filter(pl.col("number").is_not_null())
    )


# --- deciding ------------------------------------------------------------------------------------


def _scopes(kind: str, mapping: dict[str, ChannelBrandPurpose]) -> pl.DataFrame:
    """The mapping of one kind of statement as a frame: kind, stmt, channel, brand, purpose."""
    return pl.DataFrame(
        [(kind, sid, m.channel, m.brand, m.purpose) for sid, m in mapping.items()],
        schema={k: pl.String for k in ("kind", "stmt", "channel", "brand", "purpose")},
        orient="row",
    )


def _decide(batch: Batch, rel: str, parts: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Map each statement to its scope, status, basis and time; the statements that cannot be are rejected."""
    m = rules.mapping(SOURCE)
    scopes = pl.concat([_scopes("subscription", m.subscriptions), _scopes("preference", m.preferences)])
    parts = parts.join(scopes, on=["kind", "stmt"], how="left", maintain_order="left")
    is_sub = pl.col("kind") == "subscription"
    rows = reject_where(
        batch,
        rel,
        parts,
        is_sub & pl.col("channel").is_null(),
        "unmapped_subscription",
        pl.format("subscription id: {}", pl.col("stmt")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~is_sub & pl.col("channel").is_null(),
        "unmapped_preference",
        pl.format("preference id: {}", pl.col("stmt")),
    )
    # A subscription's channel object must be the channel the mapping gives the subscription.
    rows = reject_where(
        batch,
        rel,
        rows,
        is_sub & (pl.col("stmt_channel") != pl.col("channel")),
        "unmapped_subscription",
        pl.format("subscription {} channel: {}", pl.col("stmt"), pl.col("stmt_channel")),
    )
    value = text("value").str.to_lowercase()
    what = pl.when(is_sub).then(pl.lit("isSubscribed")).otherwise(pl.lit(GRANTED))
    rows = reject_where(
        batch,
        rel,
        rows,
        value.is_null(),
        "missing_value",
        pl.format("{} of {} is empty", what, pl.col("stmt")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~value.is_in(["true", "false"]),
        "bad_value",
        pl.format("{} of {}: {}", what, pl.col("stmt"), pl.col("value")),
    )
    doi = text("doi_status").str.to_lowercase()
    rows = reject_where(
        batch,
        rel,
        rows,
        is_sub & (value == "true") & doi.is_not_null() & ~doi.is_in([CONFIRMED, *UNCONFIRMED]),
        "bad_value",
        pl.format("doubleOptIn.status of {}: {}", pl.col("stmt"), pl.col("doi_status")),
    )
    rows = rows.with_columns(iso8601(pl.col("time_text")).alias("event_ts"))
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("event_ts").is_null(),
        "bad_timestamp",
        pl.format("{}: {}", pl.col("time_field"), pl.col("time_text").fill_null("")),
    )
    granted = text("value").str.to_lowercase() == "true"
    confirmed = is_sub & granted & (doi == CONFIRMED).fill_null(False)
    return rows.with_columns(
        pl.when(~granted)
        .then(pl.lit("opt_out"))
        .when(is_sub & doi.is_in(list(UNCONFIRMED)).fill_null(False))
        .then(pl.lit("pending"))
        .otherwise(pl.lit("opt_in"))
        .alias("status"),
        pl.lit("express").alias("basis"),
        confirmed.alias("double_opt_in"),
    )


def _subjects(
    batch: Batch, rel: str, rows: pl.DataFrame, accounts: pl.DataFrame, phones: pl.DataFrame, rules: Rules
) -> pl.DataFrame:
    """Each decided statement on its subjects: contact points of its channel's type, else the customer."""
    ctype = pl.col("channel").replace_strict(rules.channel_type, default=None, return_dtype=pl.String)
    rows = rows.join(accounts.select(REC, "party_id"), on=REC, how="left").with_columns(
        pl.when(pl.col("channel") == "*")
        .then(pl.lit("any"))
        .when(ctype == "email")
        .then(pl.lit("email"))
        .when(ctype == "phone")
        .then(pl.lit("mobile"))
        .otherwise(pl.lit("party"))
        .alias("target"),
        ctype.alias("contact_point_type"),
    )
    # The account's contact points, by the kind of statement they serve.
    email = accounts.filter(pl.col("email").is_not_null()).select(
        REC, pl.col("email").alias("cp_raw"), pl.lit("email").alias("cp_type")
    )
    phone = phones.select(REC, pl.col("number").alias("cp_raw"), pl.lit("phone").alias("cp_type"), "mobile")
    cps = pl.concat(
        [
            email.with_columns(pl.lit("email").alias("target")),
            phone.filter("mobile").drop("mobile").with_columns(pl.lit("mobile").alias("target")),
            email.with_columns(pl.lit("any").alias("target")),
            phone.drop("mobile").with_columns(pl.lit("any").alias("target")),
        ]
    )
    customer = pl.col("party_id").is_not_null()
    party_first = pl.col("target").is_in(["any", "party"]) & customer
    on_party = rows.filter(party_first)
    on_cps = (
        rows.filter(~party_first)
        .join(cps, on=[REC, "target"], how="left", maintain_order="left")
        # sms / voice with no mobile phone: the customer, party-level
        .with_columns(
            (pl.col("cp_raw").is_null() & (pl.col("target") == "mobile") & customer).alias("_fallback")
        )
    )
    fallback = on_cps.filter("_fallback").drop("_fallback")
    on_cps = reject_where(
        batch,
        rel,
        on_cps.filter(~pl.col("_fallback")).drop("_fallback"),
        pl.col("cp_raw").is_null(),
        "no_contact_point",
        pl.format(
            "{} {}: no contact point for channel {}", pl.col("kind"), pl.col("stmt"), pl.col("channel")
        ),
    ).with_columns(pl.col("cp_type").alias("contact_point_type"))
    party_level = pl.concat([on_party, fallback], how="diagonal_relaxed").with_columns(
        pl.lit(None, pl.String).alias("cp_raw")
    )
    return pl.concat([on_cps, party_level], how="diagonal_relaxed").join(
        accounts.select(REC, "country"), on=REC, how="left"
    )


def _accounts(batch: Batch, delivery: Delivery, rel: str, frame: pl.DataFrame, rules: Rules) -> None:
    accounts = _accounts_frame(frame)
    phones = _phones(frame)
    parts = pl.concat([_subscription_parts(frame), _preference_parts(frame)])
    decided = _decide(batch, rel, parts, rules)
    rows = _subjects(batch, rel, decided, accounts, phones, rules)
    uid = accounts.select(REC, "uid")

    events = with_lineage(rows.join(uid, on=REC, how="left"), delivery, rel, pl.col("uid")).select(
        *LINEAGE_COLS,
        "party_id",
        "cp_raw",
        "contact_point_type",
        pl.col("country").alias("cp_region"),
        "channel",
        "purpose",
        "brand",
        "status",
        "basis",
        "event_ts",
        "double_opt_in",
    )
    batch.add("events", events)
    batch.add(
        "contact_evidence",
        events.filter(
            pl.col("double_opt_in") & pl.col("party_id").is_not_null() & pl.col("cp_raw").is_not_null()
        ).select(
            *LINEAGE_COLS,
            "party_id",
            "cp_raw",
            "contact_point_type",
            "cp_region",
            pl.lit("double_opt_in").alias("kind"),
            pl.col("event_ts").alias("evidence_ts"),
        ),
    )
    _account_facts(batch, delivery, rel, accounts, phones, decided, parts)


def _account_facts(
    batch: Batch,
    delivery: Delivery,
    rel: str,
    accounts: pl.DataFrame,
    phones: pl.DataFrame,
    decided: pl.DataFrame,
    parts: pl.DataFrame,
) -> None:
    """Profile, review and login evidence of each account, dated lastUpdated (else its latest statement)."""
    latest = decided.group_by(REC).agg(pl.col("event_ts").max().alias("latest_ts"))
    first_mobile = phones.filter("mobile").group_by(REC, maintain_order=True).agg(pl.col("number").first())
    accounts = (
        accounts.join(latest, on=REC, how="left")
        .join(first_mobile, on=REC, how="left")
        .with_columns(pl.coalesce("updated_ts", "latest_ts").alias("ts"))
    )
    # An unreadable lastUpdated is a rejected part; the account's facts then take its latest statement time.
    reject_where(
        batch,
        rel,
        accounts,
        pl.col("updated_text").is_not_null() & pl.col("updated_ts").is_null(),
        "bad_timestamp",
        pl.format("lastUpdated: {}", pl.col("updated_text")),
    )
    # A customer's capture is a review; one that cannot be dated at all is rejected.
    customer = pl.col("party_id").is_not_null()
    reject_where(
        batch,
        rel,
        accounts,
        customer & pl.col("ts").is_null() & pl.col("updated_text").is_null(),
        "missing_value",
        "lastUpdated is empty and no statement is dated: the review has no time",
    )
    base = with_lineage(accounts.filter(pl.col("ts").is_not_null()), delivery, rel, pl.col("uid"))
    batch.add(
        "subject_profiles",
        base.select(
            *LINEAGE_COLS,
            "party_id",
            pl.col("email").alias("email_raw"),
            pl.col("number").alias("phone_raw"),
            pl.col("country").alias("cp_region"),
            "country",
            "first_name",
            "last_name",
            pl.col("ts").alias("observed_ts"),
        ),
    )
    batch.add(
        "reviews", base.filter(customer).select(*LINEAGE_COLS, "party_id", pl.col("ts").alias("reviewed_at"))
    )
    batch.add(
        "contact_evidence",
        base.filter(customer & pl.col("full") & pl.col("email").is_not_null()).select(
            *LINEAGE_COLS,
            "party_id",
            pl.col("email").alias("cp_raw"),
            pl.lit("email").alias("contact_point_type"),
            pl.col("country").alias("cp_region"),
            pl.lit("account_login").alias("kind"),
            pl.col("ts").alias("evidence_ts"),
        ),
    )
    # No statement and no customer: nothing to record (a lite account that only holds a profile).
    nothing = accounts.filter(~customer & ~pl.col(REC).is_in(parts[REC].implode()))
    skip_records(batch, rel, nothing, "no_decision")
