"""The run's parameters: scale, seed, as-of, the time window, the volume of each feed, random streams."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

from consent_pipeline.config import Rules
from consent_pipeline.generate.fmt import DAY

DEFAULT_AS_OF = dt.datetime(2026, 3, 1, 6, 0, 0, tzinfo=dt.UTC)
WINDOW_DAYS = 90  # deliveries span the last 90 days before as-of
HISTORY_DAYS = 4 * 365  # customer history and transactions go back about four years
LEGACY_MIGRATION_DAYS = 130  # the legacy billing migration landed before the window

# Volumes at scale 1 (about 100,000 customers and 1,000,000 source records); everything is linear in scale.
# The comment after each is the share of records it ends up as, roughly (see the report for the real mix).
RATES: dict[str, float] = {
    "customers": 100_000,  # customer master: a full export plus daily deltas (~14%)
    "prospects": 40_000,  # people only in leads, lite accounts, walk-ins, ESP lists
    "crm_updates": 36_000,
    "transactions": 215_000,  # 4 years of history in the first delivery, then daily (~22%)
    "sends_campaign": 140_000,  # (~19% with service sends)
    "sends_service": 45_000,
    "mailchimp_members": 7_000,  # per weekly snapshot, across audiences and kinds (~9%)
    "sendgrid_noise_events": 62_000,  # delivered / open / click ... (skipped by the pipeline)
    "sendgrid_suppression_share": 1.0,  # multiplier on the suppression rates below
    "twilio_messages": 38_000,
    "pref_accounts": 15_000,  # full accounts tied to a customer
    "pref_lite_accounts": 5_000,
    "pref_changes": 17_000,
    "call_captures": 23_000,
    "pos_receipts": 46_000,
    "stores": 40,
    "onetrust_receipts": 13_000,
    "sf_individuals": 11_000,
    "sf_consents": 27_000,
    "legacy_migration": 40_000,
    "legacy_stragglers": 600,
    "leads": 14_000,
    "registry_extra": 2_500,  # listed numbers that are not ours, per registry snapshot
    "erasures": 250,
}


@dataclass(frozen=True)
class Plan:
    rules: Rules
    scale: float
    seed: int
    as_of: int  # Unix seconds, UTC

    @classmethod
    def make(cls, rules: Rules, scale: float, seed: int, as_of: dt.datetime | None) -> Plan:
        if scale <= 0:
            raise ValueError("scale must be positive")
        when = as_of or DEFAULT_AS_OF
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return cls(rules, float(scale), int(seed), int(when.timestamp()))

    @property
    def start(self) -> int:
        """The oldest delivery time."""
        return self.as_of - WINDOW_DAYS * DAY

    @property
    def history_start(self) -> int:
        return self.as_of - HISTORY_DAYS * DAY

    @property
    def year(self) -> int:
        return dt.datetime.fromtimestamp(self.as_of, dt.UTC).year

    def n(self, key: str) -> int:
        """The volume of `key` at this scale."""
        return round(RATES[key] * self.scale)

    def rng(self, stream: str) -> np.random.Generator:
        """An independent random stream per part, so one feed's draws never shift another's."""
        return np.random.default_rng([self.seed, zlib.crc32(stream.encode())])
