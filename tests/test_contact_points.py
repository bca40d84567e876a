"""Contact-point normalisation: the vectorised paths agree with the libraries wherever they decide; one form per
mailbox (IDN spellings); letters in a phone are never digits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import phonenumbers
import polars as pl
import pytest

from consent_pipeline.config import Rules
from consent_pipeline.generate import generate
from consent_pipeline.lib.contact_points import (
    _email_fast,
    _email_slow,
    _phone_slow,
    _phones_fast,
    normalise_emails,
    normalise_phones,
    prospect_id,
    sha256_hex,
)

HAND_MADE = [
    ("(415) 555-0134", "US"),
    ("1-415-555-0134", "US"),
    ("+1 415 555 0134", None),
    ("415.555.0134", "CA"),
    ("14155550134", "US"),
    ("4155550134", None),
    ("555-0134", "US"),
    ("+1 (415) 555-0134 ext 12", "US"),
    ("07700 900123", "GB"),
    ("+44 7700 900123", "GB"),
    ("+44 (0)7700 900123", None),
    ("447700900123", "GB"),
    ("0044 7700 900123", "GB"),
    ("020 7946 0018", "GB"),
    ("07700-900123", "GB"),
    ("7700 900123", "GB"),
    ("0412 345 678", "AU"),
    ("+61 412 345 678", "AU"),
    ("(02) 5550 1234", "AU"),
    ("1831 0412345678", "AU"),
    ("0151 23456789", "DE"),
    ("+49 151 23456789", None),
    ("030/12345678", "DE"),
    ("06 12 34 56 78", "FR"),
    ("06.12.34.56.78", "FR"),
    ("+39 06 1234 5678", None),
    ("347 123 4567", "IT"),
    ("612 34 56 78", "ES"),
    ("22 12 34 56", "NO"),
    ("+47 22123456", None),
    ("087 123 4567", "IE"),
    ("021 123 4567", "NZ"),
    ("079 123 45 67", "CH"),
    ("011 15 2345 6789", "AR"),
    ("(11) 91234-5678", "BR"),
    ("55 1234 5678", "MX"),
    ("12", "GB"),
    ("call me", "GB"),
    ("+", None),
    ("()", "US"),
    ("+999 1234", None),
    ("0", "GB"),
    ("+1 800 FLOWERS", "US"),
    ("０７７００ ９００１２３", "GB"),
    ("+447700900123", None),
    ("+3531234567", None),
]


def check_agreement(pairs: list[tuple[str, str | None]]) -> int:
    frame = pl.DataFrame(
        {"clean": [c for c, _ in pairs], "region": [r for _, r in pairs]},
        schema={"clean": pl.String, "region": pl.String},
    )
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
        [pl.read_csv(p, infer_schema=False, encoding="utf8-lossy") for p in (out / "customer_master").rglob("*.csv")],
        how="diagonal",
    )
    pairs = {
        (phone.strip(), country)
        for col in ("mobile_phone", "home_phone")
        for phone, country in customers.select(col, "country").iter_rows()
        if phone and phone.strip()
    }
    assert check_agreement(sorted(pairs, key=str)) > 0.9 * len(pairs)


@pytest.mark.parametrize(
    ("raw", "region", "want"),
    [
        ("(415) 555-0134", "US", "+14155550134"),
        ("07700 900123", "GB", "+447700900123"),
        ("+44 (0)7700 900123", None, "+447700900123"),  # decided by the library
        ("call me", "GB", None),
    ],
)
def test_normalise_phones_end_to_end(raw: str, region: str | None, want: str | None) -> None:
    out = normalise_phones(pl.Series([raw, raw]), pl.Series([region, region], dtype=pl.String))
    assert out["value"].to_list() == [want, want]
    assert out["reason"].to_list() == [None if want else "invalid_phone"] * 2


# --- emails: one canonical form per mailbox --------------------------------------------------------------

BUECHER = "user@b\u00fccher.de"  # NFC: u-umlaut as one code point


@pytest.mark.parametrize(
    "raw",
    [
        "user@b\u00fccher.de",
        "user@xn--bcher-kva.de",  # the same domain as an IDNA A-label
        "USER@XN--BCHER-KVA.DE",
        " User@B\u00dcCHER.DE ",
        "user@bu\u0308cher.de",  # NFD: u + combining diaeresis
        "user@\uff42\u00fccher.de",  # a full-width b (the library's IDNA mapping)
    ],
)
def test_every_spelling_of_an_idn_mailbox_is_one_contact_point(raw: str) -> None:
    out = normalise_emails(pl.Series([raw]))
    assert out.row(0) == (BUECHER, None)
    assert sha256_hex(out["value"][0]) == sha256_hex(BUECHER)
    assert (
        prospect_id(out["value"][0])
        == prospect_id(BUECHER)
        == "P-" + hashlib.sha256(BUECHER.encode("utf-8")).hexdigest()[:16]
    )


def test_a_unicode_local_part_is_kept_lower_cased() -> None:
    # it has no ASCII form at all, which is why the canonical form is the Unicode one
    out = normalise_emails(pl.Series(["\u00dcser@B\u00fccher.DE", "\u00fcser@xn--bcher-kva.de"]))
    assert out["value"].to_list() == ["\u00fcser@b\u00fccher.de"] * 2


def test_a_bad_a_label_is_an_invalid_email() -> None:
    out = normalise_emails(pl.Series(["user@xn--zzzz.de", "user@xn--.de"]))
    assert out.rows() == [(None, "invalid_email")] * 2


def test_plain_ascii_addresses_keep_the_fast_path_and_agree_with_the_library() -> None:
    plain = ["ana.silva@example.com", "a+tag@mail.example.co.uk", "x_y-z@sub-1.example.org", "o'neil@example.ie"]
    other = ["user@xn--bcher-kva.de", BUECHER, "\u00fcser@example.com", "user@mail.xn--bcher-kva.de"]
    fast = pl.DataFrame({"clean": plain + other}).select(_email_fast(pl.col("clean"))).to_series().to_list()
    assert fast == [True] * len(plain) + [False] * len(other)
    assert [_email_slow(e) for e in plain] == plain


# --- phones: letters are never digits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("07700 900ABC", "GB"),  # the case: the library reads +447700900222
        ("+1 800 FLOWERS", "US"),
        ("1-800-FLOWERS", "US"),
        ("+44 7700 9OO123", None),  # letter O for zero
        ("+1 (800) flowers", "US"),
        ("+1 415 555 0134 ext. 12", "US"),
        ("+1 415 555 0134 x12", "US"),
        ("020 7946 0201 (ext 3)", "GB"),
        ("+1 415 555 0134;ext=12", None),
        ("415 555 CALL", "US"),
    ],
)
def test_a_phone_with_letters_is_invalid_though_the_library_would_read_it(raw: str, region: str | None) -> None:
    assert phonenumbers.is_possible_number(phonenumbers.parse(raw, region))  # the path that is closed
    out = normalise_phones(pl.Series([raw]), pl.Series([region], dtype=pl.String))
    assert out.row(0) == (None, "invalid_phone")


def test_an_extension_without_letters_is_invalid_too() -> None:
    number = phonenumbers.parse("+1 415 555 0134 #12", "US")
    assert number.extension == "12"
    out = normalise_phones(pl.Series(["+1 415 555 0134 #12"]), pl.Series(["US"]))
    assert out.row(0) == (None, "invalid_phone")


@pytest.mark.parametrize(
    ("raw", "region", "want"),
    [
        ("1.4155550134E+10", "US", ("+14155550134", None)),  # every digit still there
        ("4,47700900123e11", "GB", ("+447700900123", None)),
        ("4.47700900123E+11", None, (None, "invalid_phone")),  # the + is lost too: no country to read it
        ("1.41556E+10", "US", (None, "damaged_phone")),  # digits lost
        ("1E+10", "US", (None, "damaged_phone")),
        ("4.4770090012300E+11", "GB", (None, "damaged_phone")),  # more decimals than the exponent
    ],
)
def test_scientific_notation(raw: str, region: str | None, want: tuple[str | None, str | None]) -> None:
    assert normalise_phones(pl.Series([raw]), pl.Series([region], dtype=pl.String)).row(0) == want
