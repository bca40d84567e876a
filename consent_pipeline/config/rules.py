"""Load and validate the company's rules (rules/*.yaml).

Every company-specific value lives in rules/. Loading checks each file against a schema and every
cross-reference (brands, purposes, channels) and fails with one message naming the file and the key.
Numbers are whole numbers within a sane range (a duration from 1 day to 100 years, a share from 0 to 1),
time zones are IANA names, sender numbers E.164, and a key given twice in one mapping is an error (YAML
would otherwise keep the last one silently).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar, cast, overload

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)


class RulesError(ValueError):
    """A rules file is missing, unreadable or invalid; the message names the file and the key."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + problem)

    def __reduce__(self) -> tuple[type[RulesError], tuple[str, str, str]]:
        # pickled with its three parts (a connector's task raises it on a Spark executor, the run raises it here)
        return RulesError, (self.file, self.key, self.problem)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Numbers in rules: whole numbers (strict: `7.0`, `true` or `"7"` are not), in ranges that keep every date
# computed from them within what the warehouse's timestamps and Python's dates hold.
MAX_DAYS, MAX_MONTHS, MAX_COUNT = 36_525, 1_200, 1_000_000
Days = Annotated[int, Strict(), Field(ge=1, le=MAX_DAYS)]
Months = Annotated[int, Strict(), Field(ge=1, le=MAX_MONTHS)]
SlaDays = Annotated[int, Strict(), Field(ge=0, le=3_650)]  # 0: honoured in the same day's extract
SlaBusinessDays = Annotated[int, Strict(), Field(ge=0, le=2_600)]  # ten years of working days
Count = Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT)]
Share = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _iana_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/London, America/New_York, UTC)")
    return value


TimeZone = Annotated[str, AfterValidator(_iana_zone)]
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


# --- company.yaml -------------------------------------------------------------------------------


class Brand(_Model):
    display_name: str
    business: str = ""
    regions: list[str]


class Purpose(_Model):
    kind: Literal["parent", "marketing", "transactional"]
    opt_out_allowed: bool = True
    meaning: str = ""


class CompanyFile(_Model):
    company: dict[str, str] = Field(default_factory=dict)
    brands: dict[str, Brand]
    contact_point_types: dict[Literal["email", "phone", "postal"], list[str]]
    channels: list[str]
    purposes: dict[str, Purpose]
    regions: dict[str, list[str]]
    fallback_region: str
    default_timezones: dict[str, TimeZone] = Field(default_factory=dict)
    fallback_timezone: TimeZone = "UTC"
    source_priority: list[str]

    @field_validator("channels")
    @classmethod
    def _file_names(cls, channels: list[str]) -> list[str]:
        for ch in channels:  # a channel names its suppression file
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", ch):
                raise ValueError(f"channel {ch!r} must be 1 to 64 letters, digits, - and _ (it names a file)")
        return channels


# --- policies.yaml ------------------------------------------------------------------------------


class SlaRule(_Model):
    days: SlaDays | None = None
    business_days: SlaBusinessDays | None = None

    @model_validator(mode="after")
    def _one(self) -> SlaRule:
        if (self.days is None) == (self.business_days is None):
            raise ValueError("give exactly one of days, business_days")
        return self


class RegistryPolicy(_Model):
    region: str
    max_age_days: Days
    # false: the region does not count as stale while this registry was never delivered (a registry the
    # company may not subscribe to, e.g. the UK Corporate TPS); once delivered it is fresh by max_age_days.
    required: bool = True


class RegistrySnapshots(_Model):
    # A registry delivery that would un-list more than this share of the snapshot in force is held until an
    # operator confirms it (feeds.md §11).
    max_unlisted_share: float = Field(default=0.5, ge=0, le=1)


class ThirdPartyConsent(_Model):
    # An opt-in captured by a third party (lead lists) counts for this many days from its event time.
    lifetime_days: Days


class LegacyPolicy(_Model):
    # A legacy record with no flag set: an opt-in of mappings/legacy.yaml `no_flags_scope`, or nothing.
    no_flags: Literal["legitimate_interest", "no_consent"]


class Reviews(_Model):
    # A customer whose last review is older than this many calendar months goes in the review queue.
    interval_months: Months


class PoliciesFile(_Model):
    third_party_consent: ThirdPartyConsent
    legacy: LegacyPolicy
    reviews: Reviews
    frequency_caps: FrequencyCaps
    optout_sla: dict[str, SlaRule]
    registries: dict[str, RegistryPolicy]
    registry_snapshots: RegistrySnapshots = Field(default_factory=RegistrySnapshots)
    data_quality: DataQuality
    segments: SegmentRules = Field(default_factory=lambda: SegmentRules())


class SegmentRules(_Model):
    """Customer segments (semantics §7): the window of recent purchases, the purchases that make a customer
    frequent, and the ends of the three first lapsed bands (increasing, past the window)."""

    window_days: Days = 365
    frequent_min_purchases: Count = 3
    lapsed_days: tuple[Days, Days, Days] = (545, 730, 1095)

    @model_validator(mode="after")
    def _bands(self) -> SegmentRules:
        ends = [self.window_days, *self.lapsed_days]
        if any(a >= b for a, b in itertools.pairwise(ends)):
            raise ValueError("lapsed_days must increase, each past window_days")
        return self


class DataQuality(_Model):
    max_quarantined_share: Share


class FrequencyCaps(_Model):
    window_days: Days
    per_channel: dict[str, Count]


PoliciesFile.model_rebuild()


# --- mappings/*.yaml ----------------------------------------------------------------------------


class BrandPurpose(_Model):
    brand: str
    purpose: str


class ChannelBrandPurpose(_Model):
    channel: str
    brand: str
    purpose: str


class ChannelPurpose(_Model):
    channel: str
    purpose: str


class MailchimpMap(_Model):
    audiences: dict[str, BrandPurpose]


class SendgridGroup(_Model):
    name: str
    purpose: str


class SendgridMap(_Model):
    brand: str
    global_unsubscribe_purpose: str
    groups: dict[Annotated[int, Field(ge=0, le=2**63 - 1)], SendgridGroup]


class TwilioSender(_Model):
    brand: str
    purposes: list[str]


def twilio_keyword_form(word: str) -> str:
    """How a Twilio keyword is compared (the connector compares bodies the same way): compatibility forms and
    accents dropped, lower case, trimmed, trailing punctuation ignored."""
    decomposed = unicodedata.normalize("NFKD", word.replace("\u2019", "'"))
    form = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M")).lower().strip()
    while form and (form[-1].isspace() or unicodedata.category(form[-1]).startswith("P")):
        form = form[:-1]
    return form


class TwilioKeywords(_Model):
    opt_out: list[str]
    opt_in: list[str]
    help: list[str]

    @model_validator(mode="after")
    def _one_meaning_each(self) -> TwilioKeywords:
        seen: dict[str, str] = {}
        for kind in ("opt_out", "opt_in", "help"):
            for i, word in enumerate(getattr(self, kind)):
                form = twilio_keyword_form(word)
                if not form:
                    raise ValueError(f"{kind}.{i}: {word!r} has no letters or digits to match")
                if seen.get(form, kind) != kind:
                    raise ValueError(f"{kind}.{i}: {word!r} is already in {seen[form]}")
                seen[form] = kind
        return self


class TwilioMap(_Model):
    senders: dict[str, TwilioSender]
    keywords: TwilioKeywords
    free_text_revocation_phrases: list[str]


class PreferenceCentreMap(_Model):
    subscriptions: dict[str, ChannelBrandPurpose]
    preferences: dict[str, ChannelBrandPurpose]
    # SAP's topic model: communications topic -> the entry's `channel` -> scope.
    communications: dict[str, dict[str, ChannelBrandPurpose]] = Field(default_factory=dict)
    # Preference id prefixes of the mandatory statements (terms of service, privacy policy): no consent to
    # communications, recognised and ignored.
    mandatory_statements: list[str] = Field(default_factory=list)


class OneTrustOption(_Model):
    """What a selected option of a custom preference decides, for the purpose that holds it."""

    channel: str
    status: Literal["opt_in", "opt_out"]


class OneTrustCustomPreference(_Model):
    # option Id -> its decision, or `ignore` (selected, it decides nothing)
    options: dict[str, OneTrustOption | Literal["ignore"]]


class OneTrustMap(_Model):
    brand: str
    purposes: dict[str, str]
    # TopicId -> channel (a TopicId that is a channel name is that channel unless mapped here)
    topics: dict[str, str]
    default_channels: list[str]
    # CustomPreferences Id -> its options, or `ignore` (a preference that is no consent)
    custom_preferences: dict[str, OneTrustCustomPreference | Literal["ignore"]] = Field(default_factory=dict)


class CallCentreMap(_Model):
    questions: dict[str, ChannelPurpose]


SALESFORCE_ID_LENGTH = 15


class SalesforceIds(_Model):
    """Salesforce record ids (15-character form, case-sensitive) of the lookup records, each mapped to the
    record's name (a key of the name tables; brands: a display name)."""

    data_use_purposes: dict[str, str] = Field(default_factory=dict)
    engagement_channels: dict[str, str] = Field(default_factory=dict)
    business_brands: dict[str, str] = Field(default_factory=dict)

    @field_validator("data_use_purposes", "engagement_channels", "business_brands")
    @classmethod
    def _fifteen(cls, ids: dict[str, str]) -> dict[str, str]:
        for rid in ids:
            if len(rid) != SALESFORCE_ID_LENGTH or not rid.isascii() or not rid.isalnum():
                raise ValueError(
                    f"record id {rid!r} must be a 15-character Salesforce id (letters and digits; an "
                    "18-character id without its 3-character suffix)"
                )
        return ids


class SalesforceMap(_Model):
    data_use_purposes: dict[str, str]
    engagement_channels: dict[str, str]
    contact_point_types: dict[str, Literal["email", "phone", "postal"]]
    verbal_capture_sources: list[str] = Field(default_factory=list)
    dont_market_purpose: str
    record_ids: SalesforceIds = Field(default_factory=SalesforceIds)


class LegacyFlags(_Model):
    """What each flag of the fixed-width record opts out of when set to Y (the five flag columns)."""

    NO_EMAIL: list[ChannelPurpose]
    NO_PHONE: list[ChannelPurpose]
    NO_MAIL: list[ChannelPurpose]
    DPA_NO_MARKETING: list[ChannelPurpose]
    DPA_NO_FOLLOWUP: list[ChannelPurpose]

    def by_flag(self) -> dict[str, list[ChannelPurpose]]:
        """Each flag column's name with what it opts out of, in the record's order."""
        return {
            "NO_EMAIL": self.NO_EMAIL,
            "NO_PHONE": self.NO_PHONE,
            "NO_MAIL": self.NO_MAIL,
            "DPA_NO_MARKETING": self.DPA_NO_MARKETING,
            "DPA_NO_FOLLOWUP": self.DPA_NO_FOLLOWUP,
        }


class LegacyMap(_Model):
    brand_codes: dict[str, str]
    flags: LegacyFlags
    # The opt-in a record with no flag set stands for, under policies.yaml `legacy.no_flags: legitimate_interest`.
    no_flags_scope: ChannelPurpose

    @field_validator("brand_codes")
    @classmethod
    def _three_letters(cls, codes: dict[str, str]) -> dict[str, str]:
        for code in codes:
            if len(code) != 3:
                raise ValueError(f"brand code {code!r} must be 3 characters (columns 37-39)")
        return codes


class LeadListsMap(_Model):
    purpose: str


class ErasureRequestsMap(_Model):
    """The privacy portal's request types: erasure ones are carried out, the others recognised and skipped;
    any type in neither list is quarantined (`unknown_request_type`), never skipped."""

    erasure_types: list[str] = Field(min_length=1)
    other_types: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> ErasureRequestsMap:
        both = {t.lower() for t in self.erasure_types} & {t.lower() for t in self.other_types}
        if both:
            raise ValueError(f"a type is in both lists: {', '.join(sorted(both))}")
        return self


class PosMap(_Model):
    optin_purpose: str


class WashAnswer(_Model):
    """Answers of a registry that can only be washed (feeds.md §11, AU DNCR): the submitted list with a
    result column is read by column name; files named like the unsupported answer are quarantined whole."""

    number_column: str
    result_column: str
    listed: list[str]  # result values meaning registered (compared ignoring case and surrounding space)
    not_listed: list[str]
    unsupported_names: list[str] = Field(default_factory=list)  # parts of a file name, any case


class Registry(_Model):
    country: str
    layout: Literal["area_code_number", "national", "national_fixed_width"]
    wash_answer: WashAnswer | None = None


class DncRegistriesMap(_Model):
    registries: dict[str, Registry]


# --- files.yaml ---------------------------------------------------------------------------------


class SourceFiles(_Model):
    """The files a source delivers, by kind (globs on the file name; with `/`, on the path inside the
    delivery), and for JSON sources the keys of API response envelopes that hold records."""

    files: dict[str, list[str]]
    envelopes: list[str] = Field(default_factory=list)

    @field_validator("files")
    @classmethod
    def _patterns(cls, files: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind, patterns in files.items():
            if not patterns:
                raise ValueError(f"{kind}: at least one pattern")
            for pattern in patterns:
                if not pattern.strip() or pattern.startswith("/") or ".." in pattern.split("/"):
                    raise ValueError(f"{kind}: {pattern!r} is not a file name pattern inside a delivery")
        return files


# The sources with a mapping file (mappings/<source>.yaml), each with its model below.
MappedSource = Literal[
    "mailchimp",
    "sendgrid",
    "twilio_sms",
    "preference_centre",
    "onetrust",
    "call_centre",
    "salesforce_consent",
    "legacy",
    "lead_lists",
    "dnc_registries",
    "pos",
    "erasure_requests",
]

MAPPING_MODELS: dict[MappedSource, type[_Model]] = {
    "mailchimp": MailchimpMap,
    "sendgrid": SendgridMap,
    "twilio_sms": TwilioMap,
    "preference_centre": PreferenceCentreMap,
    "onetrust": OneTrustMap,
    "call_centre": CallCentreMap,
    "salesforce_consent": SalesforceMap,
    "legacy": LegacyMap,
    "lead_lists": LeadListsMap,
    "dnc_registries": DncRegistriesMap,
    "pos": PosMap,
    "erasure_requests": ErasureRequestsMap,
}


class Mappings(_Model):
    mailchimp: MailchimpMap
    sendgrid: SendgridMap
    twilio_sms: TwilioMap
    preference_centre: PreferenceCentreMap
    onetrust: OneTrustMap
    call_centre: CallCentreMap
    salesforce_consent: SalesforceMap
    legacy: LegacyMap
    lead_lists: LeadListsMap
    dnc_registries: DncRegistriesMap
    pos: PosMap
    erasure_requests: ErasureRequestsMap


# --- templates.yaml -----------------------------------------------------------------------------

BASES = (
    "express_consent",
    "soft_opt_in",
    "implied_consent",
    "inferred_consent",
    "third_party_consent",
    "legitimate_interest",
    "opt_out_model",
)
Basis = Literal[
    "express_consent",
    "soft_opt_in",
    "implied_consent",
    "inferred_consent",
    "third_party_consent",
    "legitimate_interest",
    "opt_out_model",
]


class Cell(_Model):
    accepts: list[Basis]
    law: str
    written_only: bool = False
    double_opt_in: bool = False


class CellOverride(_Model):
    law: str
    accepts: list[Basis] | None = None
    written_only: bool | None = None
    double_opt_in: bool | None = None


class ImpliedWindow(_Model):
    purchase_months: Months
    contract_months: Months
    inquiry_months: Months
    law: str


class InferredWindow(_Model):
    purchase_months: Months
    law: str


class SoftOptIn(_Model):
    excluded_purposes: list[str] = Field(default_factory=list)
    law: str


class Exemption(_Model):
    purchase_months: Months
    inquiry_months: Months
    law: str


class Lapse(_Model):
    months: Months
    law: str


class RegistryTemplates(_Model):
    channels: dict[str, list[str]]
    relationship_exemption: dict[str, Exemption] = Field(default_factory=dict)
    express_without_period_months: dict[str, Lapse] = Field(default_factory=dict)


class TemplatesFile(_Model):
    columns: dict[str, str]
    express_bases: list[str]
    regions: dict[str, dict[str, Cell]]
    country_overrides: dict[str, dict[str, CellOverride]] = Field(default_factory=dict)
    purpose_overrides: dict[str, CellOverride] = Field(default_factory=dict)
    implied_consent: ImpliedWindow
    inferred_consent: InferredWindow
    soft_opt_in: SoftOptIn
    registries: RegistryTemplates


# --- campaigns.yaml -----------------------------------------------------------------------------

Segment = Literal[
    "frequent_1",
    "frequent_2",
    "frequent_3",
    "frequent_4",
    "occasional",
    "lapsed_1",
    "lapsed_2",
    "lapsed_3",
    "lapsed_4",
    "prospect",
]


class Campaign(_Model):
    description: str = ""
    brand: str
    channel: str
    purpose: str
    segments: list[Segment]


class CampaignsFile(_Model):
    campaigns: dict[str, Campaign]

    @field_validator("campaigns")
    @classmethod
    def _ids(cls, campaigns: dict[str, Campaign]) -> dict[str, Campaign]:
        for cid in campaigns:
            if not cid.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"campaign id {cid!r} must be letters, digits, - and _ (it names a file)")
        return campaigns


# --- the loaded rules ---------------------------------------------------------------------------


class Rules:
    """The company's rules, validated; plus the derived lookups every stage needs."""

    def __init__(
        self,
        root: Path,
        company: CompanyFile,
        policies: PoliciesFile,
        mappings: Mappings,
        templates: TemplatesFile,
        campaigns: CampaignsFile,
        files: dict[str, SourceFiles] | None = None,
    ) -> None:
        self.root = root
        self.files = files or {}
        self.company = company
        self.policies = policies
        self.mappings = mappings
        self.templates = templates
        self.campaigns = campaigns.campaigns

    # brands, channels, purposes
    @cached_property
    def brands(self) -> list[str]:
        return list(self.company.brands)

    @cached_property
    def brand_by_display_name(self) -> dict[str, str]:
        return {b.display_name: bid for bid, b in self.company.brands.items()}

    @cached_property
    def channels(self) -> list[str]:
        return list(self.company.channels)

    @cached_property
    def channel_type(self) -> dict[str, str]:
        """Channel -> its contact-point type (push has none)."""
        return {ch: t for t, chs in self.company.contact_point_types.items() for ch in chs}

    @cached_property
    def purposes(self) -> list[str]:
        return list(self.company.purposes)

    @cached_property
    def leaf_purposes(self) -> list[str]:
        return [p for p, d in self.company.purposes.items() if d.kind != "parent"]

    def purpose_leaves(self, node: str) -> list[str]:
        """The leaf purposes a purpose node covers (`*` covers every purpose)."""
        if node == "*":
            return self.leaf_purposes
        return [p for p in self.leaf_purposes if p == node or p.startswith(node + ".")]

    # regions
    @cached_property
    def region_of_country(self) -> dict[str, str]:
        return {c: region for region, countries in self.company.regions.items() for c in countries}

    @property
    def fallback_region(self) -> str:
        return self.company.fallback_region

    @cached_property
    def source_priority(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.company.source_priority)}

    # A source's mapping (mappings/<source>.yaml), typed by the source's name.
    @overload
    def mapping(self, source: Literal["mailchimp"]) -> MailchimpMap: ...
    @overload
    def mapping(self, source: Literal["sendgrid"]) -> SendgridMap: ...
    @overload
    def mapping(self, source: Literal["twilio_sms"]) -> TwilioMap: ...
    @overload
    def mapping(self, source: Literal["preference_centre"]) -> PreferenceCentreMap: ...
    @overload
    def mapping(self, source: Literal["onetrust"]) -> OneTrustMap: ...
    @overload
    def mapping(self, source: Literal["call_centre"]) -> CallCentreMap: ...
    @overload
    def mapping(self, source: Literal["salesforce_consent"]) -> SalesforceMap: ...
    @overload
    def mapping(self, source: Literal["legacy"]) -> LegacyMap: ...
    @overload
    def mapping(self, source: Literal["lead_lists"]) -> LeadListsMap: ...
    @overload
    def mapping(self, source: Literal["dnc_registries"]) -> DncRegistriesMap: ...
    @overload
    def mapping(self, source: Literal["pos"]) -> PosMap: ...
    @overload
    def mapping(self, source: Literal["erasure_requests"]) -> ErasureRequestsMap: ...
    def mapping(self, source: MappedSource) -> _Model:
        model: _Model = getattr(self.mappings, source)
        return model

    def source_files(self, source: str) -> SourceFiles:
        """A source's file patterns (files.yaml); a source it does not name delivers no file we read."""
        return self.files.get(source) or SourceFiles(files={})

    @property
    def files_path(self) -> Path:
        return self.root / "files.yaml"


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, first: int, again: int) -> None:
        super().__init__(f"{key}: given twice")
        self.key, self.first, self.again = key, first, again


class _Constructor(Protocol):
    """PyYAML's constructor, typed (its stubs leave it unannotated): what it builds is any YAML value."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object: ...


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error, not last-one-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = cast(_Constructor, self).construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:
                continue  # an unhashable key: the base loader reports it
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> object:
    if not path.exists():
        raise RulesError(path, "", "file is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(path, "", f"cannot be read: {exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except _DuplicateKey as exc:
        raise RulesError(path, str(exc.key), f"key given twice (lines {exc.first} and {exc.again}); keep one") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = " ".join(f"{exc.context or ''} {exc.problem or ''}".split()) or "unreadable"
        raise RulesError(path, "", f"not valid YAML: {problem}{where}") from None
    except yaml.YAMLError as exc:
        raise RulesError(path, "", f"not valid YAML: {' '.join(str(exc).split())}") from None


def _yaml_mapping(data: object) -> dict[object, object] | None:
    """A YAML mapping with its keys and values as they are (PyYAML gives them untyped), or None for any other
    YAML value."""
    return cast(dict[object, object], data) if isinstance(data, dict) else None


_M = TypeVar("_M", bound=_Model)


def _parse(model: type[_M], path: Path, data: object) -> _M:
    mapping = _yaml_mapping(data)
    if mapping is None:
        raise RulesError(path, "", "must be a mapping of keys to values")
    try:
        return model.model_validate(mapping)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        problem = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problem = "required key is missing"
        elif err["type"] == "extra_forbidden":
            problem = "unknown key"
        raise RulesError(path, key, problem) from None


class _Checker:
    """Cross-reference checks: every brand, purpose and channel named must exist."""

    def __init__(self, company: CompanyFile) -> None:
        self.brands = set(company.brands)
        self.purposes = set(company.purposes)
        self.channels = set(company.channels)
        self.regions = set(company.regions) | {company.fallback_region}

    def _check(self, path: Path, key: str, value: str, known: Iterable[str], what: str, star: bool) -> None:
        if star and value == "*":
            return
        if value not in known:
            raise RulesError(path, key, f"unknown {what} {value!r} (known: {', '.join(sorted(known))})")

    def brand(self, path: Path, key: str, value: str, star: bool = False) -> None:
        self._check(path, key, value, self.brands, "brand", star)

    def purpose(self, path: Path, key: str, value: str, star: bool = False) -> None:
        self._check(path, key, value, self.purposes, "purpose", star)

    def channel(self, path: Path, key: str, value: str, star: bool = False) -> None:
        self._check(path, key, value, self.channels, "channel", star)

    def region(self, path: Path, key: str, value: str) -> None:
        self._check(path, key, value, self.regions, "region", False)


def _cross_check(root: Path, company: CompanyFile, policies: PoliciesFile, m: Mappings) -> None:
    c = _Checker(company)
    cf = root / "company.yaml"
    for t, chs in company.contact_point_types.items():
        for i, ch in enumerate(chs):
            c.channel(cf, f"contact_point_types.{t}.{i}", ch)
    for name, p in company.purposes.items():
        if "." in name and name.rsplit(".", 1)[0] not in company.purposes:
            raise RulesError(cf, f"purposes.{name}", f"parent purpose {name.rsplit('.', 1)[0]!r} is not defined")
        if p.kind == "parent" and "." in name:
            raise RulesError(cf, f"purposes.{name}", "only top-level purposes can be parents")
    for bid, b in company.brands.items():
        for i, r in enumerate(b.regions):
            c.region(cf, f"brands.{bid}.regions.{i}", r)
    pf = root / "policies.yaml"
    for ch in policies.frequency_caps.per_channel:
        c.channel(pf, f"frequency_caps.per_channel.{ch}", ch)
    for r in policies.optout_sla:
        c.region(pf, f"optout_sla.{r}", r)
    for r in c.regions:
        if r not in policies.optout_sla:
            raise RulesError(pf, f"optout_sla.{r}", "required key is missing (every region needs an SLA)")
    for reg, rp in policies.registries.items():
        c.region(pf, f"registries.{reg}.region", rp.region)

    def mp(name: str) -> Path:
        return root / "mappings" / f"{name}.yaml"

    for aid, a in m.mailchimp.audiences.items():
        c.brand(mp("mailchimp"), f"audiences.{aid}.brand", a.brand)
        c.purpose(mp("mailchimp"), f"audiences.{aid}.purpose", a.purpose)
    c.brand(mp("sendgrid"), "brand", m.sendgrid.brand)
    c.purpose(mp("sendgrid"), "global_unsubscribe_purpose", m.sendgrid.global_unsubscribe_purpose)
    for gid, g in m.sendgrid.groups.items():
        c.purpose(mp("sendgrid"), f"groups.{gid}.purpose", g.purpose)
    for num, s in m.twilio_sms.senders.items():
        if not E164.fullmatch(num):
            raise RulesError(
                mp("twilio_sms"), f"senders.{num}", "not an E.164 number (+, then 7 to 15 digits; quote it)"
            )
        c.brand(mp("twilio_sms"), f"senders.{num}.brand", s.brand)
        for i, p in enumerate(s.purposes):
            c.purpose(mp("twilio_sms"), f"senders.{num}.purposes.{i}", p)
    for kind in ("subscriptions", "preferences"):
        for sid, s in getattr(m.preference_centre, kind).items():
            star = kind == "preferences"
            c.channel(mp("preference_centre"), f"{kind}.{sid}.channel", s.channel, star)
            c.brand(mp("preference_centre"), f"{kind}.{sid}.brand", s.brand, star)
            c.purpose(mp("preference_centre"), f"{kind}.{sid}.purpose", s.purpose)
    for topic, channels in m.preference_centre.communications.items():
        for sap_channel, s in channels.items():
            key = f"communications.{topic}.{sap_channel}"
            c.channel(mp("preference_centre"), f"{key}.channel", s.channel)
            c.brand(mp("preference_centre"), f"{key}.brand", s.brand)
            c.purpose(mp("preference_centre"), f"{key}.purpose", s.purpose)
    for i, prefix in enumerate(m.preference_centre.mandatory_statements):
        if not prefix.strip(". "):
            raise RulesError(mp("preference_centre"), f"mandatory_statements.{i}", "must not be empty")
        for pid in m.preference_centre.preferences:
            if pid == prefix or pid.startswith(prefix + "."):
                raise RulesError(
                    mp("preference_centre"),
                    f"preferences.{pid}",
                    f"is a mandatory statement (mandatory_statements: {prefix!r}), never consent",
                )
    c.brand(mp("onetrust"), "brand", m.onetrust.brand)
    for pid, p in m.onetrust.purposes.items():
        c.purpose(mp("onetrust"), f"purposes.{pid}", p)
    for tid, ch in m.onetrust.topics.items():
        c.channel(mp("onetrust"), f"topics.{tid}", ch)
    for i, ch in enumerate(m.onetrust.default_channels):
        c.channel(mp("onetrust"), f"default_channels.{i}", ch)
    for what, ids in (
        ("purposes", m.onetrust.purposes),
        ("topics", m.onetrust.topics),
        ("custom_preferences", m.onetrust.custom_preferences),
    ):
        seen: dict[str, str] = {}
        for key in ids:  # ids are matched whatever their case
            if key.lower() in seen:
                raise RulesError(mp("onetrust"), f"{what}.{key}", f"the same id as {seen[key.lower()]!r}")
            seen[key.lower()] = key
    for pid, pref in m.onetrust.custom_preferences.items():
        if not isinstance(pref, OneTrustCustomPreference):
            continue  # `ignore`
        for oid, opt in pref.options.items():
            if isinstance(opt, OneTrustOption):
                c.channel(mp("onetrust"), f"custom_preferences.{pid}.options.{oid}.channel", opt.channel)
    for q, qm in m.call_centre.questions.items():
        c.channel(mp("call_centre"), f"questions.{q}.channel", qm.channel, star=True)
        c.purpose(mp("call_centre"), f"questions.{q}.purpose", qm.purpose)
    for name, p in m.salesforce_consent.data_use_purposes.items():
        c.purpose(mp("salesforce_consent"), f"data_use_purposes.{name}", p)
    c.purpose(mp("salesforce_consent"), "dont_market_purpose", m.salesforce_consent.dont_market_purpose)
    for name, ch in m.salesforce_consent.engagement_channels.items():
        c.channel(mp("salesforce_consent"), f"engagement_channels.{name}", ch)
    sf_ids = m.salesforce_consent.record_ids
    display_names = {b.display_name for b in company.brands.values()}
    for table, ids, known in (
        ("data_use_purposes", sf_ids.data_use_purposes, set(m.salesforce_consent.data_use_purposes)),
        ("engagement_channels", sf_ids.engagement_channels, set(m.salesforce_consent.engagement_channels)),
        ("business_brands", sf_ids.business_brands, display_names),
    ):
        for rid, name in ids.items():
            if name not in known:
                raise RulesError(
                    mp("salesforce_consent"),
                    f"record_ids.{table}.{rid}",
                    f"unknown name {name!r} (known: {', '.join(sorted(known))})",
                )
    for code, b in m.legacy.brand_codes.items():
        c.brand(mp("legacy"), f"brand_codes.{code}", b)
    for flag, scopes in m.legacy.flags.by_flag().items():
        for i, scope in enumerate(scopes):
            c.channel(mp("legacy"), f"flags.{flag}.{i}.channel", scope.channel, star=True)
            c.purpose(mp("legacy"), f"flags.{flag}.{i}.purpose", scope.purpose, star=True)
    c.channel(mp("legacy"), "no_flags_scope.channel", m.legacy.no_flags_scope.channel, star=True)
    c.purpose(mp("legacy"), "no_flags_scope.purpose", m.legacy.no_flags_scope.purpose, star=True)
    c.purpose(mp("lead_lists"), "purpose", m.lead_lists.purpose)
    c.purpose(mp("pos"), "optin_purpose", m.pos.optin_purpose)
    for reg, spec in m.dnc_registries.registries.items():
        if reg not in policies.registries:
            raise RulesError(
                pf, f"registries.{reg}", "required key is missing (every registry needs a freshness policy)"
            )
        wash = spec.wash_answer
        if wash is not None:
            both = {v.strip().lower() for v in wash.listed} & {v.strip().lower() for v in wash.not_listed}
            if both:
                raise RulesError(
                    mp("dnc_registries"),
                    f"registries.{reg}.wash_answer.not_listed",
                    f"{', '.join(sorted(both))} is also in listed",
                )


def load_rules(root: Path | str) -> Rules:
    """Load rules/ and validate it; raise RulesError naming the file and the key on any problem."""
    root = Path(root)
    if not root.is_dir():
        raise RulesError(root, "", "rules directory does not exist")
    company = _parse(CompanyFile, root / "company.yaml", _read_yaml(root / "company.yaml"))
    policies = _parse(PoliciesFile, root / "policies.yaml", _read_yaml(root / "policies.yaml"))
    parsed: dict[str, _Model] = {}
    for name, model in MAPPING_MODELS.items():
        path = root / "mappings" / f"{name}.yaml"
        parsed[name] = _parse(model, path, _read_yaml(path))
    mappings = Mappings.model_validate(parsed)  # each is validated already: kept as it is
    templates = _parse(TemplatesFile, root / "templates.yaml", _read_yaml(root / "templates.yaml"))
    _cross_check(root, company, policies, mappings)
    _check_templates(root / "templates.yaml", company, templates)
    campaigns = _parse(CampaignsFile, root / "campaigns.yaml", _read_yaml(root / "campaigns.yaml"))
    _check_campaigns(root / "campaigns.yaml", company, campaigns)
    files = _parse_files(root / "files.yaml")
    return Rules(root, company, policies, mappings, templates, campaigns, files)


def _parse_files(path: Path) -> dict[str, SourceFiles]:
    data = _yaml_mapping(_read_yaml(path))
    if data is None:
        raise RulesError(path, "", "must be a mapping of sources to their files")
    out: dict[str, SourceFiles] = {}
    for source, spec in data.items():
        if _yaml_mapping(spec) is None:
            raise RulesError(path, str(source), "must be a mapping with `files` (and `envelopes`)")
        try:
            out[str(source)] = SourceFiles.model_validate(spec)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in (source, *err["loc"]))
            problem = {"missing": "required key is missing", "extra_forbidden": "unknown key"}.get(
                err["type"], err["msg"].removeprefix("Value error, ")
            )
            raise RulesError(path, key, problem) from None
    return out


def _check_campaigns(path: Path, company: CompanyFile, f: CampaignsFile) -> None:
    c = _Checker(company)
    leaves = {p for p, d in company.purposes.items() if d.kind != "parent"}
    for cid, camp in f.campaigns.items():
        c.brand(path, f"campaigns.{cid}.brand", camp.brand)
        c.channel(path, f"campaigns.{cid}.channel", camp.channel)
        if camp.purpose not in leaves:
            raise RulesError(
                path,
                f"campaigns.{cid}.purpose",
                f"must be a leaf purpose (known: {', '.join(sorted(leaves))})",
            )


def _check_templates(path: Path, company: CompanyFile, t: TemplatesFile) -> None:
    c = _Checker(company)
    columns = set(t.columns.values())
    for ch in t.columns:
        c.channel(path, f"columns.{ch}", ch)
    for ch in company.channels:
        if ch not in t.columns:
            raise RulesError(path, f"columns.{ch}", "required key is missing (every channel needs a template column)")
    for region in c.regions:
        if region not in t.regions:
            raise RulesError(path, f"regions.{region}", "required key is missing (every region needs a template)")
        for col in columns:
            if col not in t.regions[region]:
                raise RulesError(path, f"regions.{region}.{col}", "required key is missing")
    for region, cells in t.regions.items():
        c.region(path, f"regions.{region}", region)
        for col in cells:
            if col not in columns:
                raise RulesError(
                    path, f"regions.{region}.{col}", f"unknown column (known: {', '.join(sorted(columns))})"
                )
    for country, cells in t.country_overrides.items():
        for col in cells:
            if col not in columns:
                raise RulesError(path, f"country_overrides.{country}.{col}", "unknown column")
    for purpose in (*t.purpose_overrides, *t.soft_opt_in.excluded_purposes):
        c.purpose(path, f"purpose_overrides.{purpose}", purpose)
    for region, chans in t.registries.channels.items():
        c.region(path, f"registries.channels.{region}", region)
        for i, ch in enumerate(chans):
            c.channel(path, f"registries.channels.{region}.{i}", ch)


def read_yaml(path: Path) -> Any:
    """One YAML file read as the rules are (a key given twice is an error): RulesError naming the file."""
    return _read_yaml(path)
