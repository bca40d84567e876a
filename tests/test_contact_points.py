"""Contact-point normalisation: the vectorised phone path agrees with phonenumbers wherever it decides."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from consent_pipeline.config import Rules
from consent_pipeline.generate import generate
from consent_pipeline.lib.contact_points import _phone_slow, _phones_fast, normalise_phones

HAND_MADE = [
    ("(415) 555-0134", "US"), ("1-415-555-0134", "US"), ("+1 415 555 0134", None), ("415.555.0134", "CA"),
    ("14155550134", "US"), ("4155550134", None), ("555-0134", "US"), ("+1 (415) 555-0134 ext 12", "US"),
    ("07700 900123", "GB"), ("+44 7700 900123", "GB"), ("+44 (0)7700 900123", None), ("447700900123", "GB"),
    ("0044 7700 900123", "GB"), ("020 7946 0018", "GB"), ("07700-900123", "GB"), ("7700 900123", "GB"),
    ("0412 345 678", "AU"), ("+61 412 345 678", "AU"), ("(02) 5550 1234", "AU"), ("1831 0412345678", "AU"),
    ("0151 23456789", "DE"), ("+49 151 23456789", None), ("030/12345678", "DE"), ("06 12 34 56 78", "FR"),
    ("06.12.34.56.78", "FR"), ("+39 06 1234 5678", None), ("347 123 4567", "IT"), ("612 34 56 78", "ES"),
    ("22 12 34 56", "NO"), ("+47 22123456", None), ("087 123 4567", "IE"), ("021 123 4567", "NZ"),
    ("079 123 45 67", "CH"), ("011 15 2345 6789", "AR"), ("(11) 91234-5678", "BR"), ("55 1234 5678", "MX"),
    ("12", "GB"), ("call me", "GB"), ("+", None), ("()", "US"), ("+999 1234", None), ("0", "GB"),
    ("+1 800 FLOWERS", "US"), ("０７７００ ９００１２３", "GB"), ("+447700900123", None), ("+3531234567", None),
]


def check_agreement(pairs: list[tuple[str, str | None]]) -> int:
    frame = pl.DataFrame({"clean": [c for c, _ in pairs], "region": [r for _, r in pairs]},
                         schema={"clean": pl.String, "region": pl.String})
    fast = _phones_fast(frame).to_list()
    decided = 0
    for (clean, region), value in zip(pairs, fast, strict=True):
        if value is not None:
            decided += 1
            assert value == _phone_slow(clean, region), (clean, region, value)
    return decided


def test_fast_path_agrees_with_the_library_on_hand_made_numbers() -> None:
    decided = check_agreement(HAND_MADE)
    assert decided >= 20  # the common shapes are decided without the library


def test_fast_path_agrees_on_every_generated_number(tmp_path: Path, rules: Rules) -> None:
    out = tmp_path / "landing"
    generate(out, rules, scale=0.02, seed=5)
    customers = pl.concat(
        [pl.read_csv(p, infer_schema=False, encoding="utf8-lossy") for p in (out / "customer_master").rglob("*.csv")], how="diagonal"
    )
    pairs = {
        (phone.strip(), country)
        for col in ("mobile_phone", "home_phone")
        for phone, country in customers.select(col, "country").iter_rows()
        if phone and phone.strip()
    }
    assert check_agreement(sorted(pairs, key=str)) > 0.9 * len(pairs)


@pytest.mark.parametrize(("raw", "region", "want"), [
    ("(415) 555-0134", "US", "+14155550134"),
    ("07700 900123", "GB", "+447700900123"),
    ("+44 (0)7700 900123", None, "+447700900123"),  # decided by the library
    ("call me", "GB", None),
])
def test_normalise_phones_end_to_end(raw: str, region: str | None, want: str | None) -> None:
    out = normalise_phones(pl.Series([raw, raw]), pl.Series([region, region], dtype=pl.String))
    assert out["value"].to_list() == [want, want]
    assert out["reason"].to_list() == [None if want else "invalid_phone"] * 2
