"""SAP Customer Data Cloud accounts export (feeds.md §6): `accounts_*.jsonl`.

A file holds one account a line, or one `accounts.search` response a line: an envelope whose `results`
(the keys are `rules/files.yaml` `envelopes`) are the records. An envelope whose `statusCode` is not 200 is
one record, quarantined whole (`api_error`). A record that is an object with none of an account's fields
is quarantined (`unrecognised_record`), never skipped.

Three kinds of statement live on an account, and each becomes consent events:
- `subscriptions.<id>.<channel>` (ids may contain dots): `isSubscribed=false` is an opt-out at
  `lastUpdatedSubscriptionState`; `isSubscribed=true` with `doubleOptIn.status` `Confirmed` an opt-in at
  `confirmTime` (double opt-in), with `Pending` / `NotConfirmed` a `pending` consent at
  `lastUpdatedSubscriptionState`, with no status a plain opt-in at `lastUpdatedSubscriptionState`.
- `preferences.<a>.<b>...` down to the statement objects (`isConsentGranted`, `lastConsentModified`...; the
  statement id is the path joined with dots): granted is an opt-in, not granted an opt-out, at
  `actionTimestamp`, falling back to `lastConsentModified` only when `actionTimestamp` is missing. The
  mandatory statements (the mapping's `mandatory_statements` prefixes: terms of service, privacy policy)
  are no communication consent: recognised and ignored.
- `communications.<key>` (SAP's topic model): `topic` + `channel` are mapped; status `OptIn` / `OptOut`
  decide at `userActionTimestamp`, else `lastModified`; `NoConsent` decides nothing.
Ids are mapped to channel / brand / purpose by `rules/mappings/preference_centre.yaml`. Times are ISO 8601
or epoch milliseconds (a JSON number or digits) in every time field; `data.customerId` may be a number.

An opt-out whose time cannot be read goes to the core with no time (it takes effect at the delivery's
received_ts, estimated); an opt-in or pending one is quarantined there (`bad_timestamp`).

Fail safe: a statement that cannot be read (an unmapped id or topic, a value outside SAP's vocabulary) is a
rejected part, the account's readable opt-outs apply, and no opt-in or pending statement of the account is
applied to a key the unreadable one might have decided. An unmapped statement's channel, brand and purpose
are unknown, so it might have decided any key of the account: none of the account's opt-ins apply. A
mapped statement with an unreadable value might have decided only its own scope: opt-ins whose scope
overlaps it (the same channel, brand and purpose, or `*`, or a parent / child purpose) are held back.

Subjects: an email statement is the profile's email; an sms / voice one each `mobile` phone of the profile
(region = profile country), or with none the customer (`data.customerId`, party-level); a `*` channel one
the customer (party-level), or with no customer the account's email and every phone; any other channel
(mail, door, push: the account holds no such contact point) the customer. Contact-point events carry the
customer id too when there is one. A statement with no subject is a rejected part (`no_contact_point`);
an email statement on an account without an email is never widened to the customer's other addresses.

Facts: a subject profile per account; a review per account with a customer id (every capture counts, even
one that changes nothing), dated `lastUpdated` (else `lastUpdatedTimestamp`) or, without a readable one, the
latest statement time; a confirmed double opt-in of a customer is `double_opt_in` evidence for the email;
a full account (it has a login) tied to a customer id is `account_login` evidence for its email at that
time (semantics §3 rule 1: "a preference-centre account whose login email it is, tied to a customer id").
A lite account (no customer) with no statement that decides anything is skipped (`no_decision`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import PreferenceCentreMap
from source_connectors._common import (
    envelopes,
    field,
    parse_files,
    reject_where,
    skip_records,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, Records, read_json

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

SOURCE = "preference_centre"
KIND = "accounts"  # its file patterns: rules/files.yaml

# SAP CDC's own vocabulary (the product's, not the company's).
CONFIRMED = "confirmed"
UNCONFIRMED = ("pending", "notconfirmed")
GRANTED = "isConsentGranted"
MOBILE = "mobile"
# The fields of a consent statement object under `preferences`: a struct holding any of them is one.
STATEMENT_FIELDS = ("isConsentGranted", "lastConsentModified", "actionTimestamp", "docVersion", "docDate")
# communications status -> consent status; `NoConsent` is recognised and decides nothing.
COMM_STATUS = {"optin": "opt_in", "optout": "opt_out"}
NO_CONSENT = "noconsent"
# The fields of an account (accounts.search / accounts.getAccountInfo): an object with none is no account.
ACCOUNT_FIELDS = (
    "UID",
    "profile",
    "data",
    "subscriptions",
    "preferences",
    "communications",
    "lastUpdated",
    "lastUpdatedTimestamp",
    "hasLiteAccount",
    "hasFullAccount",
    "created",
    "createdTimestamp",
    "emails",
    "loginIDs",
    "isActive",
    "isRegistered",
    "isVerified",
)
OK_STATUS = "200"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")
# One row per statement (subscription channel object, preference or communication) of an account.
PART_SCHEMA = {
    REC: pl.Int64(),
    "kind": pl.String(),  # subscription | preference | communication
    "stmt": pl.String(),  # the mapping's key: subscription id, preference path, communication topic
    "stmt_channel": pl.String(),  # the channel object a subscription was under; a communication's channel
    "label": pl.String(),  # how the detail names the statement
    "value": pl.String(),  # isSubscribed / isConsentGranted / status as text
    "doi_status": pl.String(),
    "time_field": pl.String(),  # which field dates the statement
    "time_text": pl.String(),
}
SCOPE_COLS = ("channel", "brand", "purpose")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    env = envelopes(rules, SOURCE, _failed_response)

    def read(path: Path) -> Records:
        return read_json(path, envelopes=env)

    return parse_files(SOURCE, delivery, rules, KIND, read, _accounts)


def _failed_response(obj: dict) -> str | None:
    """An accounts.search response that is not a success (its statusCode is SAP's, not HTTP's)."""
    if "statusCode" not in obj or str(obj.get("statusCode")).strip() == OK_STATUS:
        return None
    why = obj.get("errorMessage") or obj.get("statusReason") or ""
    return f"statusCode {obj.get('statusCode')}, errorCode {obj.get('errorCode')}: {why}".strip()


# --- reading the nested JSON ---------------------------------------------------------------------


def _at(expr: pl.Expr, dtype: PolarsDataType, *path: str) -> pl.Expr:
    """A scalar below `expr` (of type `dtype`) as text; null when the schema has no such scalar."""
    for name in path:
        fields = {f.name: f.dtype for f in dtype.fields} if isinstance(dtype, pl.Struct) else {}
        if name not in fields:
            return pl.lit(None, pl.String)
        expr, dtype = expr.struct.field(name), fields[name]
    if isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
        return pl.lit(None, pl.String)
    if dtype.is_float():  # a number written 1.7e12 or 100001.0: its integer digits
        expr = (
            pl.when(expr == expr.round())
            .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(expr.cast(pl.String))
        )
    return expr.cast(pl.String, strict=False)


def sap_time(expr: pl.Expr) -> pl.Expr:
    """A time as SAP writes it: ISO 8601 text, or epoch milliseconds (a JSON number, or its digits)."""
    t = expr.cast(pl.String).str.strip_chars()
    digits = t.str.contains(r"^\d+(\.\d*)?$")
    millis = t.cast(pl.Float64, strict=False).round().cast(pl.Int64, strict=False)
    return pl.when(digits).then(pl.from_epoch(millis, time_unit="ms").cast(pl.Datetime("us"))).otherwise(iso8601(t))


def _subscription_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per subscription id and channel object present on an account."""
    root = frame.schema.get("subscriptions")
    pieces = []
    for sub in root.fields if isinstance(root, pl.Struct) else []:
        sub_obj = pl.col("subscriptions").struct.field(sub.name)
        if not isinstance(sub.dtype, pl.Struct):  # not an object of channels: a statement that cannot be read
            pieces.append(
                frame.filter(sub_obj.is_not_null()).select(
                    REC,
                    pl.lit("subscription").alias("kind"),
                    pl.lit(sub.name).alias("stmt"),
                    pl.lit(None, pl.String).alias("stmt_channel"),
                    pl.lit(sub.name).alias("label"),
                    *(pl.lit(None, pl.String).alias(c) for c in ("value", "doi_status", "time_field", "time_text")),
                )
            )
            continue
        for ch in sub.dtype.fields:
            obj = sub_obj.struct.field(ch.name)
            # Only a subscribed, confirmed subscription is dated by its confirmation.
            subscribed = _at(obj, ch.dtype, "isSubscribed").str.strip_chars().str.to_lowercase() == "true"
            status = _at(obj, ch.dtype, "doubleOptIn", "status").str.strip_chars().str.to_lowercase()
            confirmed = (subscribed & (status == CONFIRMED)).fill_null(False)
            when_field = (
                pl.when(confirmed).then(pl.lit("confirmTime")).otherwise(pl.lit("lastUpdatedSubscriptionState"))
            )
            pieces.append(
                frame.filter(obj.is_not_null()).select(
                    REC,
                    pl.lit("subscription").alias("kind"),
                    pl.lit(sub.name).alias("stmt"),
                    pl.lit(ch.name).alias("stmt_channel"),
                    pl.lit(sub.name).alias("label"),
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


def _statement_paths(dtype: PolarsDataType, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], PolarsDataType]]:
    """The paths (in the frame's schema) of the statements under `preferences`: the objects holding a
    statement's fields, and any value that is no object where one belongs (a statement that cannot be read)."""
    if not isinstance(dtype, pl.Struct):
        return [(path, dtype)] if path and dtype != pl.Null() else []
    if path and set(STATEMENT_FIELDS) & {f.name for f in dtype.fields}:
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
                pl.lit(stmt).alias("label"),
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


def _communication_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per `communications` entry present on an account (its key is only a name: `topic` and
    `channel` say what it is about)."""
    root = frame.schema.get("communications")
    pieces = []
    for entry in root.fields if isinstance(root, pl.Struct) else []:
        obj, dt = pl.col("communications").struct.field(entry.name), entry.dtype
        action, modified = text(_at(obj, dt, "userActionTimestamp")), text(_at(obj, dt, "lastModified"))
        pieces.append(
            frame.filter(obj.is_not_null()).select(
                REC,
                pl.lit("communication").alias("kind"),
                text(_at(obj, dt, "topic")).alias("stmt"),
                text(_at(obj, dt, "channel")).alias("stmt_channel"),
                pl.lit(entry.name).alias("label"),
                _at(obj, dt, "status").alias("value"),
                pl.lit(None, pl.String).alias("doi_status"),
                pl.when(action.is_not_null())
                .then(pl.lit(f"communications.{entry.name}.userActionTimestamp"))
                .otherwise(pl.lit(f"communications.{entry.name}.lastModified"))
                .alias("time_field"),
                pl.coalesce(action, modified).alias("time_text"),
            )
        )
    return pl.concat(pieces) if pieces else pl.DataFrame(schema=PART_SCHEMA)


def _parts(frame: pl.DataFrame, m: PreferenceCentreMap) -> pl.DataFrame:
    """Every statement of every account that can decide something: the mandatory statements and the
    communications without consent (`NoConsent`) are recognised and left out."""
    parts = pl.concat([_subscription_parts(frame), _preference_parts(frame), _communication_parts(frame)])
    mandatory = pl.lit(False)
    for prefix in m.mandatory_statements:
        mandatory = mandatory | (pl.col("stmt") == prefix) | pl.col("stmt").str.starts_with(prefix + ".")
    no_consent = (pl.col("kind") == "communication") & (
        text("value").str.to_lowercase().str.replace_all(r"[\s_-]", "") == NO_CONSENT
    )
    return parts.filter(~((pl.col("kind") == "preference") & mandatory).fill_null(False) & ~no_consent.fill_null(False))


def _accounts_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per account: who it is, and the time of the account as a whole."""
    updated = text(field(frame, "lastUpdated"))
    updated_ms = text(field(frame, "lastUpdatedTimestamp"))
    customer = frame.schema.get("data")
    return frame.select(
        REC,
        text(field(frame, "UID")).alias("uid"),
        text(_at(pl.col("data"), customer, "customerId")).alias("party_id")
        if customer is not None
        else pl.lit(None, pl.String).alias("party_id"),
        text(field(frame, "profile.email")).alias("email"),
        text(field(frame, "profile.country")).str.to_uppercase().alias("country"),
        text(field(frame, "profile.firstName")).alias("first_name"),
        text(field(frame, "profile.lastName")).alias("last_name"),
        (text(field(frame, "hasFullAccount")).str.to_lowercase() == "true").fill_null(False).alias("full"),
        pl.when(updated.is_not_null())
        .then(pl.lit("lastUpdated"))
        .otherwise(pl.lit("lastUpdatedTimestamp"))
        .alias("updated_field"),
        pl.coalesce(updated, updated_ms).alias("updated_text"),
    ).with_columns(sap_time(pl.col("updated_text")).alias("updated_ts"))


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
            (text(_at(one, phones.inner, "type")).str.to_lowercase() == MOBILE).fill_null(False).alias("mobile"),
        )
        .filter(pl.col("number").is_not_null())
    )


# --- deciding ------------------------------------------------------------------------------------


def _scopes(m: PreferenceCentreMap) -> pl.DataFrame:
    """The mapping as a frame: kind, stmt, map_channel (a communication's channel), channel, brand, purpose."""
    rows = [("subscription", sid, None, s.channel, s.brand, s.purpose) for sid, s in m.subscriptions.items()]
    rows += [("preference", pid, None, p.channel, p.brand, p.purpose) for pid, p in m.preferences.items()]
    rows += [
        ("communication", topic, sap_channel, c.channel, c.brand, c.purpose)
        for topic, channels in m.communications.items()
        for sap_channel, c in channels.items()
    ]
    cols = ("kind", "stmt", "map_channel", *SCOPE_COLS)
    return pl.DataFrame(rows, schema={k: pl.String for k in cols}, orient="row")


class _Doubts:
    """The scopes that a record's rejected statements might have decided (null: any)."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = [pl.DataFrame(schema={REC: pl.Int64, **{c: pl.String for c in SCOPE_COLS}})]

    def reject(
        self,
        batch: Batch,
        rel: str,
        frame: pl.DataFrame,
        mask: pl.Expr,
        reason: str,
        detail: pl.Expr,
        known: bool,
    ) -> pl.DataFrame:
        """reject_where, remembering the rejected statements' scopes (their mapped scope when `known`)."""
        bad = frame.filter(mask.fill_null(False))
        scope = [pl.col(c) if known else pl.lit(None, pl.String).alias(c) for c in SCOPE_COLS]
        self.frames.append(bad.select(REC, *scope))
        return reject_where(batch, rel, frame, mask, reason, detail)

    def held_back(self, rows: pl.DataFrame) -> pl.Expr:
        """Opt-ins and pending statements whose scope a doubt of their record overlaps."""
        doubts = pl.concat(self.frames).rename({c: f"d_{c}" for c in SCOPE_COLS})
        ids = rows.with_row_index("_row").filter(pl.col("status") != "opt_out")
        hit = ids.join(doubts, on=REC, how="inner").filter(
            _overlap("channel") & _overlap("brand") & _purposes_overlap()
        )
        return pl.int_range(pl.len()).is_in(hit["_row"].unique().implode())


def _overlap(col: str) -> pl.Expr:
    a, b = pl.col(col), pl.col(f"d_{col}")
    return b.is_null() | (a == b) | (a == "*") | (b == "*")


def _purposes_overlap() -> pl.Expr:
    """The same purpose, or one the parent of the other (consent at a parent covers every child)."""
    a, b = pl.col("purpose"), pl.col("d_purpose")
    return b.is_null() | (a == b) | (a == "*") | (b == "*") | a.str.starts_with(b + ".") | b.str.starts_with(a + ".")


def _decide(batch: Batch, rel: str, parts: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Map each statement to its scope, status, basis and time; the statements that cannot be read are
    rejected, and the opt-ins they might have overruled are held back (fail safe)."""
    m = rules.mapping(SOURCE)
    kind = pl.col("kind")
    is_sub, is_pref, is_comm = kind == "subscription", kind == "preference", kind == "communication"
    parts = parts.with_columns(
        pl.when(is_comm).then(pl.col("stmt_channel")).otherwise(pl.lit(None, pl.String)).alias("map_channel")
    ).join(_scopes(m), on=["kind", "stmt", "map_channel"], how="left", maintain_order="left", nulls_equal=True)
    doubts = _Doubts()
    unmapped = pl.col("channel").is_null()
    rows = doubts.reject(
        batch, rel, parts, is_sub & unmapped, "unmapped_subscription",
        pl.format("subscription id: {}", pl.col("label")), known=False,
    )  # fmt: skip
    rows = doubts.reject(
        batch, rel, rows, is_pref & unmapped, "unmapped_preference",
        pl.format("preference id: {}", pl.col("label")), known=False,
    )  # fmt: skip
    rows = doubts.reject(
        batch, rel, rows, is_comm & unmapped, "unmapped_topic",
        pl.format(
            "communications {}: topic {}, channel {}",
            pl.col("label"), pl.col("stmt").fill_null(""), pl.col("stmt_channel").fill_null(""),
        ),
        known=False,
    )  # fmt: skip
    rows = doubts.reject(
        batch, rel, rows, is_sub & pl.col("stmt_channel").is_null(), "bad_value",
        pl.format("subscriptions.{} is not an object of channels", pl.col("label")), known=True,
    )  # fmt: skip
    # A subscription's channel object must be the channel the mapping gives the subscription.
    rows = doubts.reject(
        batch, rel, rows, is_sub & (pl.col("stmt_channel") != pl.col("channel")), "unmapped_subscription",
        pl.format("subscription {} channel: {}", pl.col("label"), pl.col("stmt_channel")), known=False,
    )  # fmt: skip
    value = text("value").str.to_lowercase()
    comm_value = value.str.replace_all(r"[\s_-]", "")
    what = pl.when(is_sub).then(pl.lit("isSubscribed")).when(is_pref).then(pl.lit(GRANTED)).otherwise(pl.lit("status"))
    rows = doubts.reject(
        batch, rel, rows, value.is_null(), "missing_value",
        pl.format("{} of {} is empty", what, pl.col("label")), known=True,
    )  # fmt: skip
    readable = pl.when(is_comm).then(comm_value.is_in(list(COMM_STATUS))).otherwise(value.is_in(["true", "false"]))
    rows = doubts.reject(
        batch, rel, rows, ~readable, "bad_value",
        pl.format("{} of {}: {}", what, pl.col("label"), pl.col("value")), known=True,
    )  # fmt: skip
    doi = text("doi_status").str.to_lowercase()
    rows = doubts.reject(
        batch, rel, rows,
        is_sub & (value == "true") & doi.is_not_null() & ~doi.is_in([CONFIRMED, *UNCONFIRMED]),
        "bad_value", pl.format("doubleOptIn.status of {}: {}", pl.col("label"), pl.col("doi_status")), known=True,
    )  # fmt: skip
    granted = (value == "true") | (is_comm & (comm_value == "optin"))
    confirmed = is_sub & granted & (doi == CONFIRMED).fill_null(False)
    rows = rows.with_columns(
        pl.when(~granted)
        .then(pl.lit("opt_out"))
        .when(is_sub & doi.is_in(list(UNCONFIRMED)).fill_null(False))
        .then(pl.lit("pending"))
        .otherwise(pl.lit("opt_in"))
        .alias("status"),
        pl.lit("express").alias("basis"),
        confirmed.alias("double_opt_in"),
        # An unreadable time is the core's to settle: an opt-out at the delivery's time, else bad_timestamp.
        sap_time(pl.col("time_text")).alias("event_ts"),
        pl.format("{}: {}", pl.col("time_field"), pl.col("time_text").fill_null("")).alias("time_detail"),
    )
    return rows.with_columns(doubts.held_back(rows).alias("held_back"))


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
        .with_columns((pl.col("cp_raw").is_null() & (pl.col("target") == "mobile") & customer).alias("_fallback"))
    )
    fallback = on_cps.filter("_fallback").drop("_fallback")
    on_cps = reject_where(
        batch,
        rel,
        on_cps.filter(~pl.col("_fallback")).drop("_fallback"),
        pl.col("cp_raw").is_null(),
        "no_contact_point",
        pl.format("{} {}: no contact point for channel {}", pl.col("kind"), pl.col("label"), pl.col("channel")),
    ).with_columns(pl.col("cp_type").alias("contact_point_type"))
    party_level = pl.concat([on_party, fallback], how="diagonal_relaxed").with_columns(
        pl.lit(None, pl.String).alias("cp_raw")
    )
    return pl.concat([on_cps, party_level], how="diagonal_relaxed").join(
        accounts.select(REC, "country"), on=REC, how="left"
    )


def _recognised(batch: Batch, rel: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The records that are accounts. A failed response read as a record (one object a line, where the reader
    takes it for an account) is `api_error`; an object with none of an account's fields is
    `unrecognised_record`: neither is ever skipped."""
    if "statusCode" in frame.columns:
        code = text(pl.col("statusCode").cast(pl.String))
        message = text(field(frame, "errorMessage"))
        frame = reject_where(
            batch,
            rel,
            frame,
            code.is_not_null() & (code != OK_STATUS),
            "api_error",
            pl.format("statusCode {}: {}", code, message.fill_null("")),
        )
    present = [pl.col(c).is_not_null() for c in ACCOUNT_FIELDS if c in frame.columns]
    is_account = pl.any_horizontal(present) if present else pl.lit(False)
    return reject_where(
        batch, rel, frame, ~is_account, "unrecognised_record", "an object with none of an account's fields"
    )


def _accounts(batch: Batch, delivery: Delivery, rel: str, frame: pl.DataFrame, rules: Rules) -> None:
    frame = _recognised(batch, rel, frame)
    if frame.height == 0:
        return
    accounts = _accounts_frame(frame)
    phones = _phones(frame)
    parts = _parts(frame, rules.mapping(SOURCE))
    decided = _decide(batch, rel, parts, rules)
    # Held-back statements still prove what they prove (a confirmed email); they are no consent events.
    held = _subjects(Batch(SOURCE), rel, decided.filter("held_back"), accounts, phones, rules)
    rows = _subjects(batch, rel, decided.filter(~pl.col("held_back")), accounts, phones, rules)
    uid = accounts.select(REC, "uid")

    def lineage(frame: pl.DataFrame) -> pl.DataFrame:
        return with_lineage(frame.join(uid, on=REC, how="left"), delivery, rel, pl.col("uid")).select(
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
            "time_detail",
        )

    events = lineage(rows)
    batch.add("events", events)
    proofs = pl.concat([events, lineage(held)])
    batch.add(
        "contact_evidence",
        proofs.filter(
            pl.col("double_opt_in")
            & pl.col("party_id").is_not_null()
            & pl.col("cp_raw").is_not_null()
            & pl.col("event_ts").is_not_null()
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
        pl.format("{}: {}", pl.col("updated_field"), pl.col("updated_text")),
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
    batch.add("reviews", base.filter(customer).select(*LINEAGE_COLS, "party_id", pl.col("ts").alias("reviewed_at")))
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
    # No statement that decides anything and no customer: nothing to record (a lite account that only holds
    # a profile, terms-of-service acceptances or communications without consent).
    nothing = accounts.filter(~customer & ~pl.col(REC).is_in(parts[REC].implode()))
    skip_records(batch, rel, nothing, "no_decision")
