"""When deliveries land, which delivery carries each record, and where bad input is injected."""

from __future__ import annotations

import numpy as np
import polars as pl

from consent_pipeline.generate.fmt import DAY, HOUR
from consent_pipeline.generate.plan import Plan


def deliveries(plan: Plan, every_days: int, hour: int, minute: int = 0) -> np.ndarray:
    """Delivery times (Unix seconds) every `every_days` from the window's start, the last one before as-of."""
    first_day = plan.start - plan.start % DAY
    times = np.arange(first_day + hour * HOUR + minute * 60, plan.as_of - HOUR, every_days * DAY, dtype=np.int64)
    return times


def event_times(rng: np.random.Generator, n: int, start: int, end: int) -> np.ndarray:
    """`n` source times spread over [start, end), mostly in the daytime of a European/American day."""
    t = rng.integers(start, max(end, start + 1), n, dtype=np.int64)
    return t - t % 60 + rng.integers(0, 60, n)


def assign(
    rng: np.random.Generator, ts: np.ndarray, times: np.ndarray, late_share: float = 0.02, max_late: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """The delivery index of each record (the first delivery at or after its source time) and whether it
    came late (held back by the source system for one to `max_late` more deliveries)."""
    idx = np.searchsorted(times, ts, side="left")
    idx = np.clip(idx, 0, times.size - 1)
    late = rng.random(ts.size) < late_share
    idx = np.where(late, np.minimum(idx + rng.integers(1, max_late + 1, ts.size), times.size - 1), idx)
    return idx, late & (idx < times.size - 1)


def bad_kinds(rng: np.random.Generator, n: int, shares: dict[str, float]) -> pl.Series:
    """A bad-input kind per row (null for good rows): disjoint picks, each kind at least once when n allows."""
    out = np.full(n, "", dtype=object)
    if n == 0:
        return pl.Series("bad", [], dtype=pl.String)
    free = np.ones(n, dtype=bool)
    for kind, share in shares.items():
        want = max(1, round(n * share)) if n >= 4 * len(shares) else 0
        candidates = np.flatnonzero(free)
        if want == 0 or candidates.size == 0:
            continue
        chosen = rng.choice(candidates, size=min(want, candidates.size), replace=False)
        out[chosen] = kind
        free[chosen] = False
    series = pl.Series("bad", out.tolist(), dtype=pl.String)
    return pl.select(pl.when(series != "").then(series)).to_series().alias("bad")


def groups(frame: pl.DataFrame, times: np.ndarray, col: str = "d") -> list[tuple[int, pl.DataFrame]]:
    """The frame split by delivery index, in delivery order (the loop is over deliveries, not records)."""
    out = []
    for key, part in frame.sort(col, maintain_order=True).partition_by(col, as_dict=True).items():
        d = int(key[0])
        out.append((int(times[d]), part))
    return sorted(out, key=lambda kv: kv[0])
