"""Phone numbers: drawing unique numbers from each country's plans and writing them the ways people do.

A number is kept as (plan index, national significant number). Rendering loops over plans (a few dozen),
never over numbers.
"""

from __future__ import annotations

import re

import numpy as np
import phonenumbers
import polars as pl

from consent_pipeline.generate.world import COUNTRIES, PhonePlan

PLANS: list[PhonePlan] = [p for c in COUNTRIES.values() for p in (*c.mobile, *c.landline)]
_BY_KIND: dict[tuple[str, str], list[int]] = {}
for _i, _p in enumerate(PLANS):
    _BY_KIND.setdefault((_p.country, _p.kind), []).append(_i)
CALLING_CODE = [str(phonenumbers.country_code_for_region(p.country)) for p in PLANS]
_TOKEN = re.compile(r"\{(\w+)\}")


def draw(rng: np.random.Generator, countries: pl.Series, kind: str) -> tuple[pl.Series, pl.Series]:
    """One number of `kind` per row (unique across the rows) from the row's country: (plan index, NSN).

    Rows whose country has no plan get nulls. Pools smaller than the demand are drawn with replacement.
    """
    n = countries.len()
    plan_out = np.full(n, -1, dtype=np.int32)
    offset_out = np.zeros(n, dtype=np.int64)
    codes = countries.to_numpy()
    for code in COUNTRIES:
        rows = np.flatnonzero(codes == code)
        plans = _BY_KIND.get((code, kind), [])
        if rows.size == 0 or not plans:
            continue
        sizes = np.array([PLANS[i].size for i in plans], dtype=np.int64)
        total = int(sizes.sum())
        picks = rng.choice(total, size=rows.size, replace=rows.size > total // 2)
        which = np.searchsorted(np.cumsum(sizes), picks, side="right")
        plan_out[rows] = np.asarray(plans)[which]
        offset_out[rows] = picks - np.concatenate(([0], np.cumsum(sizes)[:-1]))[which]
    return _assemble(plan_out, offset_out)


def _assemble(plan_idx: np.ndarray, offsets: np.ndarray) -> tuple[pl.Series, pl.Series]:
    n = plan_idx.size
    nsn = pl.repeat(None, n, dtype=pl.String, eager=True)
    for i in np.unique(plan_idx[plan_idx >= 0]):
        rows = np.flatnonzero(plan_idx == i)
        p = PLANS[int(i)]
        tail = pl.Series(offsets[rows]).cast(pl.String).str.zfill(p.digits)
        nsn = nsn.scatter(rows, p.prefix + tail)
    plans = pl.Series("plan", plan_idx, dtype=pl.Int32)
    plans = pl.select(pl.when(plans >= 0).then(plans)).to_series()
    return plans, nsn


def e164(plan: pl.Expr | str, nsn: pl.Expr | str) -> pl.Expr:
    """`+<calling code><NSN>`; null where the number is null."""
    plan = pl.col(plan) if isinstance(plan, str) else plan
    nsn = pl.col(nsn) if isinstance(nsn, str) else nsn
    cc = pl.lit(pl.Series(CALLING_CODE)).gather(plan)
    return pl.concat_str([pl.lit("+"), cc, nsn])


def _template(p: PhonePlan, template: str, nsn: pl.Expr) -> pl.Expr:
    starts = np.concatenate(([0], np.cumsum(p.groups)[:-1]))
    parts: list[pl.Expr] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            parts.append(pl.lit(template[pos : m.start()]))
        key = m.group(1)
        if key == "t":
            parts.append(pl.lit(p.trunk))
        elif key == "cc":
            parts.append(pl.lit(str(phonenumbers.country_code_for_region(p.country))))
        else:
            g = int(key)
            parts.append(nsn.str.slice(int(starts[g]), p.groups[g]))
        pos = m.end()
    if pos < len(template):
        parts.append(pl.lit(template[pos:]))
    return pl.concat_str(parts)


def render(frame: pl.DataFrame, plan: str, nsn: str, rng: np.random.Generator, usual: float = 0.55) -> pl.Series:
    """The numbers as typed by people: the country's usual national format for `usual` of them, the other
    ways (international, no spaces, brackets, dots) for the rest."""
    n = frame.height
    out = pl.repeat(None, n, dtype=pl.String, eager=True)
    plan_np = frame.get_column(plan).fill_null(-1).to_numpy()
    choice = rng.random(n)
    for i in np.unique(plan_np[plan_np >= 0]):
        rows = np.flatnonzero(plan_np == i)
        p = PLANS[int(i)]
        k = len(p.formats)
        u = choice[rows]
        fmt = np.where(u < usual, 0, 1 + ((u - usual) / (1 - usual) * (k - 1)).astype(np.int64).clip(0, k - 2))
        if k == 1:
            fmt[:] = 0
        sub = pl.DataFrame({"nsn": frame.get_column(nsn).gather(rows), "f": fmt})
        expr = pl.when(pl.col("f") == 0).then(_template(p, p.formats[0], pl.col("nsn")))
        for j in range(1, k):
            expr = expr.when(pl.col("f") == j).then(_template(p, p.formats[j], pl.col("nsn")))
        out = out.scatter(rows, sub.select(expr.alias("x")).to_series())
    return out


def national(frame: pl.DataFrame, plan: str, nsn: str) -> pl.Series:
    """Trunk prefix + NSN, digits only (`0491570156`)."""
    trunks = pl.Series([p.trunk for p in PLANS])
    return frame.select(pl.concat_str([pl.lit(trunks).gather(pl.col(plan)), pl.col(nsn)])).to_series()


def registry_line(frame: pl.DataFrame, plan: str, nsn: str, layout: str, rng: np.random.Generator) -> pl.Series:
    """A number as a do-not-call registry lists it (feeds.md §11), by the registry's layout."""
    if layout == "area_code_number":
        first = pl.lit(pl.Series([p.groups[0] for p in PLANS])).gather(pl.col(plan))
        return frame.select(
            pl.concat_str([pl.col(nsn).str.slice(0, first), pl.lit(","), pl.col(nsn).str.slice(first)])
        ).to_series()
    nat = national(frame, plan, nsn)
    if layout == "national":
        return nat
    # national_fixed_width: dialling code left-justified in 5 and the rest right-justified in 7, or the
    # whole number left-justified in 12 (both appear in real TPS files).
    code_len = pl.lit(pl.Series([p.registry_code for p in PLANS])).gather(pl.col(plan))
    whole = rng.random(frame.height) < 0.2
    tmp = frame.select(pl.col(plan)).with_columns(nat.alias("nat"), pl.Series("whole", whole))
    return tmp.select(
        pl.when(pl.col("whole"))
        .then(pl.col("nat").str.pad_end(12))
        .otherwise(
            pl.concat_str(
                [
                    pl.col("nat").str.slice(0, code_len).str.pad_end(5),
                    pl.col("nat").str.slice(code_len).str.pad_start(7),
                ]
            )
        )
    ).to_series()
