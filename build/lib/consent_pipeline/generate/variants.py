"""Contact points as people and systems type them, and the broken versions bad input is made of."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import polars as pl

from consent_pipeline.generate import phones

# A text column, as a Series or as an expression: the same string operations apply to both.
_Text = TypeVar("_Text", pl.Series, pl.Expr)


def typed_email(rng: np.random.Generator, emails: pl.Series) -> pl.Series:
    """Mostly as stored; some capitalised (`Ana.Silva@Example.com`), some with stray spaces."""
    n = emails.len()
    u = rng.random(n)
    frame = pl.DataFrame({"e": emails, "u": u})
    return frame.select(
        pl.when(pl.col("u") < 0.08)
        .then(pl.col("e").str.to_titlecase())
        .when(pl.col("u") < 0.11)
        .then(pl.concat_str([pl.col("e"), pl.lit(" ")]))
        .when(pl.col("u") < 0.13)
        .then(pl.col("e").str.to_uppercase())
        .otherwise(pl.col("e"))
    ).to_series()


def typed_phone(
    rng: np.random.Generator, frame: pl.DataFrame, plan: str = "mobile_plan", nsn: str = "mobile_nsn"
) -> pl.Series:
    return phones.render(frame, plan, nsn, rng)


def e164(frame: pl.DataFrame, plan: str = "mobile_plan", nsn: str = "mobile_nsn") -> pl.Series:
    return frame.select(phones.e164(plan, nsn)).to_series()


def broken_email(emails: _Text) -> _Text:
    """An address no syntax check accepts (`ana.silva@@example.com`)."""
    return emails.str.replace("@", "@@", literal=True)


def broken_phone(n: int, rng: np.random.Generator) -> pl.Series:
    """Text in a phone field that is no number at all."""
    words = ["n/a", "ask at desk", "12", "+44 77", "000", "call me"]
    return pl.Series(words, dtype=pl.String).gather(rng.integers(0, len(words), n))


def corrupt(col: pl.Expr | pl.Series, bad: str, kind: str, broken: pl.Expr | pl.Series) -> pl.Expr:
    """`col`, replaced by `broken` on the rows whose bad-input kind is `kind`."""
    return pl.when(pl.col(bad) == kind).then(broken).otherwise(col)
