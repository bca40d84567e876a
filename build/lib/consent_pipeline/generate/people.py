"""The population every feed draws from: customers in households, and prospects known to no CRM.

One frame per kind of person, built with numpy/polars over whole columns. Households share a country, an
address and a landline; a few share an email or a mobile (the ownership cases of semantics §3). Brands come
from `rules/`: a customer gets brands whose regions include the customer's region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from consent_pipeline.generate import phones
from consent_pipeline.generate.fmt import DAY, choice
from consent_pipeline.generate.plan import Plan
from consent_pipeline.generate.world import COUNTRIES, FIRST_NAMES, LAST_NAMES, STREETS, ascii_name

FIRST_CUSTOMER = 100_001
FIRST_HOUSEHOLD = 500_001


@dataclass(frozen=True)
class Population:
    # customer_id, household_id, is_primary, first, last, email (normalised), mobile_plan, mobile_nsn,
    # home_plan, home_nsn, address_line1, city, state, postal_code, country, region, brands (list),
    # customer_type, created_at, updated_at (Unix seconds)
    customers: pl.DataFrame
    # prospect_id (internal), first, last, email, mobile_plan, mobile_nsn, country, region
    prospects: pl.DataFrame
    households: int


def _names(rng: np.random.Generator, cultures: pl.Series) -> tuple[pl.Series, pl.Series]:
    n = cultures.len()
    first = pl.repeat(None, n, dtype=pl.String, eager=True)
    last = pl.repeat(None, n, dtype=pl.String, eager=True)
    for culture in cultures.unique().sort().to_list():
        rows = np.flatnonzero((cultures == culture).to_numpy())
        first = first.scatter(rows, choice(rng, FIRST_NAMES[culture], rows.size))
        last = last.scatter(rows, choice(rng, LAST_NAMES[culture], rows.size))
    return first, last


def _ascii(names: pl.Series) -> pl.Series:
    mapping = {name: ascii_name(name) for name in names.unique().drop_nulls().to_list()}
    return names.replace_strict(mapping, return_dtype=pl.String)


def _emails(
    rng: np.random.Generator, first: pl.Series, last: pl.Series, countries: pl.Series, serial: np.ndarray
) -> pl.Series:
    """Unique addresses: `first.last<serial>@<a domain of the country>`."""
    n = first.len()
    domains = pl.repeat(None, n, dtype=pl.String, eager=True)
    for code in countries.unique().sort().to_list():
        rows = np.flatnonzero((countries == code).to_numpy())
        domains = domains.scatter(rows, choice(rng, COUNTRIES[code].domains, rows.size))
    frame = pl.DataFrame({"f": _ascii(first), "l": _ascii(last), "d": domains, "s": serial})
    return frame.select(
        pl.concat_str([pl.col("f"), pl.lit("."), pl.col("l"), pl.col("s").cast(pl.String), pl.lit("@"), pl.col("d")])
    ).to_series()


def _countries(rng: np.random.Generator, n: int) -> pl.Series:
    codes = list(COUNTRIES)
    return choice(rng, codes, n, [COUNTRIES[c].weight for c in codes])


def _addresses(rng: np.random.Generator, countries: pl.Series) -> pl.DataFrame:
    n = countries.len()
    out = {k: pl.repeat(None, n, dtype=pl.String, eager=True) for k in ("line1", "city", "state", "postcode")}
    for code in countries.unique().sort().to_list():
        c = COUNTRIES[code]
        rows = np.flatnonzero((countries == code).to_numpy())
        k = rows.size
        street = choice(rng, STREETS[c.culture], k)
        number = pl.Series(rng.integers(1, 240, k)).cast(pl.String)
        line1 = (number + " " + street) if c.number_first else (street + " " + number)
        city_idx = rng.integers(0, len(c.cities), k)
        cities = pl.Series([x[0] for x in c.cities]).gather(city_idx)
        states = pl.Series([x[1] for x in c.cities]).gather(city_idx)
        prefix = pl.Series([x[2] for x in c.cities]).gather(city_idx)
        rest = pl.repeat("", k, dtype=pl.String, eager=True)
        for ch in c.postcode:
            if ch == "#":
                rest = rest + pl.Series(rng.integers(0, 10, k)).cast(pl.String)
            else:
                rest = rest + pl.Series(list("ABDEFGHJLNPQRSTUWXYZ")).gather(rng.integers(0, 20, k))
        for key, values in (("line1", line1), ("city", cities), ("state", states), ("postcode", prefix + rest)):
            out[key] = out[key].scatter(rows, values)
    return pl.DataFrame(out)


def _brands(rng: np.random.Generator, plan: Plan, regions: pl.Series) -> pl.Series:
    """Each customer's brands: those sold in the customer's region, each with a chance; at least one."""
    company = plan.rules.company.brands
    n = regions.len()
    picked = []
    for spec in company.values():
        ok = regions.is_in(spec.regions).to_numpy()
        picked.append(ok & (rng.random(n) < 0.55))
    chosen = np.stack(picked, axis=1) if picked else np.zeros((n, 0), dtype=bool)
    # Nobody without a brand: the first eligible brand, or any brand where the region has none.
    none = ~chosen.any(axis=1)
    brands = list(company)
    for i, (_, spec) in enumerate(company.items()):
        ok = regions.is_in(spec.regions).to_numpy()
        fill = none & ok
        chosen[fill, i] = True
        none &= ~fill
    if none.any():
        idx = rng.integers(0, len(brands), int(none.sum()))
        chosen[np.flatnonzero(none), idx] = True
    frame = pl.DataFrame({b: chosen[:, i] for i, b in enumerate(brands)})
    return frame.select(
        pl.concat_list([pl.when(pl.col(b)).then(pl.lit(b)) for b in brands]).list.drop_nulls().alias("brands")
    ).to_series()


def build(plan: Plan) -> Population:
    rng = plan.rng("people")
    n = max(plan.n("customers"), 12)
    region_of = plan.rules.region_of_country
    fallback = plan.rules.fallback_region

    # Households: sizes 1-4, members consecutive.
    sizes = rng.choice([1, 2, 3, 4], size=n, p=[0.58, 0.28, 0.10, 0.04])
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    hh = np.repeat(np.arange(sizes.size), sizes)[:n]
    first_of_hh = np.r_[True, hh[1:] != hh[:-1]]
    households = int(hh.max()) + 1
    hh_size = np.bincount(hh)[hh]

    hh_country = _countries(rng, households)
    country = hh_country.gather(hh)
    region = country.replace_strict(region_of, default=fallback, return_dtype=pl.String)
    culture = country.replace_strict({c: v.culture for c, v in COUNTRIES.items()}, return_dtype=pl.String)
    first, last = _names(rng, culture)
    # Members of a household mostly share the primary's last name.
    share_last = (rng.random(n) < 0.8) & ~first_of_hh
    last = (
        pl.DataFrame({"l": last, "h": hh})
        .select(pl.when(pl.Series(share_last)).then(pl.col("l").first().over("h")).otherwise(pl.col("l")))
        .to_series()
    )
    serial = np.arange(FIRST_CUSTOMER, FIRST_CUSTOMER + n)
    email = _emails(rng, first, last, country, serial)
    # A few households share one email (the primary's) or one mobile: ownership has to decide.
    hh_shares_email = rng.random(households) < 0.06
    hh_shares_mobile = rng.random(households) < 0.03
    addr = _addresses(rng, hh_country).with_row_index("hh").with_columns(pl.col("hh").cast(pl.Int64))
    m_plan, m_nsn = phones.draw(rng, country, "mobile")
    h_plan, h_nsn = phones.draw(rng, hh_country, "landline")

    frame = pl.DataFrame(
        {
            "customer_id": "C" + pl.Series(serial).cast(pl.String),
            "hh": hh,
            "hh_size": hh_size,
            "is_primary": first_of_hh,
            "first": first,
            "last": last,
            "email": email,
            "mobile_plan": m_plan,
            "mobile_nsn": m_nsn,
            "country": country,
            "region": region,
            "culture": culture,
        }
    )
    frame = frame.with_columns(
        pl.Series("shares_email", hh_shares_email[hh]), pl.Series("shares_mobile", hh_shares_mobile[hh])
    ).with_columns(
        pl.when(pl.col("shares_email") & (pl.col("hh_size") > 1))
        .then(pl.col("email").first().over("hh"))
        .otherwise(pl.col("email"))
        .alias("email"),
        pl.when(pl.col("shares_mobile") & (pl.col("hh_size") > 1))
        .then(pl.col("mobile_nsn").first().over("hh"))
        .otherwise(pl.col("mobile_nsn"))
        .alias("mobile_nsn"),
        pl.when(pl.col("shares_mobile") & (pl.col("hh_size") > 1))
        .then(pl.col("mobile_plan").first().over("hh"))
        .otherwise(pl.col("mobile_plan"))
        .alias("mobile_plan"),
    )
    has_home = rng.random(households) < 0.45
    home = pl.DataFrame(
        {"hh": np.arange(households), "home_plan": h_plan, "home_nsn": h_nsn, "has_home": has_home}
    ).join(addr, on="hh")
    frame = frame.join(home, on="hh", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("has_home")).then(pl.col("home_plan")).alias("home_plan"),
        pl.when(pl.col("has_home")).then(pl.col("home_nsn")).alias("home_nsn"),
    )
    # A single-person household has no household id in most CRMs.
    keep_hh_id = (frame["hh_size"] > 1).to_numpy() | (rng.random(n) < 0.4)
    created = plan.history_start + (rng.random(n) * (plan.start - plan.history_start - 30 * DAY)).astype(np.int64)
    updated = created + (rng.random(n) * (plan.start - created - DAY)).astype(np.int64)
    frame = frame.with_columns(
        pl.when(pl.Series(keep_hh_id))
        .then(pl.lit("H") + (pl.col("hh") + FIRST_HOUSEHOLD).cast(pl.String))
        .alias("household_id"),
        _brands(rng, plan, frame["region"]).alias("brands"),
        pl.Series("customer_type", np.where(rng.random(n) < 0.96, "customer", "prospect")),
        pl.Series("created_at", created),
        pl.Series("updated_at", updated),
    )

    # Prospects: people no CRM knows (lead lists, lite accounts, walk-ins, ESP sign-ups).
    prng = plan.rng("prospects")
    k = max(plan.n("prospects"), 6)
    p_country = _countries(prng, k)
    p_culture = p_country.replace_strict({c: v.culture for c, v in COUNTRIES.items()}, return_dtype=pl.String)
    p_first, p_last = _names(prng, p_culture)
    p_serial = np.arange(900_001, 900_001 + k)
    pm_plan, pm_nsn = phones.draw(prng, p_country, "mobile")
    prospects = pl.DataFrame(
        {
            "prospect_no": p_serial,
            "first": p_first,
            "last": p_last,
            "email": _emails(prng, p_first, p_last, p_country, p_serial),
            "mobile_plan": pm_plan,
            "mobile_nsn": pm_nsn,
            "country": p_country,
            "region": p_country.replace_strict(region_of, default=fallback, return_dtype=pl.String),
            "culture": p_culture,
        }
    )
    return Population(frame.drop("has_home", "shares_email", "shares_mobile"), prospects, households)
