"""Bytes to text, and text to lines: what every reader does first (feeds.md "Real files are messy").

A file is UTF-8 (with or without a BOM), UTF-16 with a BOM, or else Windows-1252 - but only for the lines
that are not valid UTF-8: one damaged record must not turn every good `ö` of its file into mojibake. Line
ends may be LF, CRLF or a lone CR (Excel for Mac), mixed within a file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import polars as pl

UTF8 = "utf-8"
# Undecodable bytes become U+FFFD; a record holding one carries a warning (`undecodable_characters`).
REPLACEMENT = "\ufffd"
# A file that starts like a zip (an .xlsx), gzip, PDF or image and has NULs, or whose start is a tenth NULs, is binary:
# not a feed file. A few NULs in a text file are damage to the records that hold them.
_NUL_SHARE = 0.1
_SAMPLE = 65536
_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\xd0\xcf\x11\xe0")
_SURROGATE = re.compile("[\udc80-\udcff]")  # an undecodable byte, kept by surrogateescape


@dataclass(frozen=True)
class Text:
    text: str  # line ends normalised to LF
    encoding: str  # utf-8, utf-8-sig, utf-16, or utf-8+cp1252 when some lines needed Windows-1252
    ends_with_newline: bool  # a file cut off mid-record does not
    binary: bool = False  # not a text file at all


def decode(data: bytes) -> Text:
    """A file's text: BOMs honoured, UTF-8 line by line with Windows-1252 for the lines that need it."""
    if data.startswith(codecs.BOM_UTF8):
        text, recoded = _utf8_lines(data[len(codecs.BOM_UTF8) :])
        encoding = "utf-8-sig+cp1252" if recoded else "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        text, encoding = data.decode("utf-32", errors="replace"), "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = data.decode("utf-16", errors="replace"), "utf-16"
    elif _looks_utf16_without_bom(data):
        # Every other byte NUL: UTF-16 whose BOM a tool dropped (ASCII text in UTF-16 looks like this).
        codec = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
        text, encoding = data.decode(codec, errors="replace"), codec
    else:
        text, recoded = _utf8_lines(data)
        encoding = "utf-8+cp1252" if recoded else UTF8
    sample = text[:_SAMPLE]
    binary = (data.startswith(_MAGIC) and b"\x00" in data[:1024]) or (
        len(sample) >= 512 and sample.count("\x00") > len(sample) * _NUL_SHARE
    )
    text = _lf(text).removeprefix("\ufeff")  # a BOM written twice (a tool added one to a file with one)
    return Text(text, encoding, text.endswith("\n") or not text, binary)


def _lf(text: str) -> str:
    """Every line end as LF: CRLF (Windows) and a lone CR (Excel for Mac) included."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _looks_utf16_without_bom(data: bytes) -> bool:
    head = data[:400]
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return (odd.count(0) > len(odd) * 0.9 and even.count(0) == 0) or (
        even.count(0) > len(even) * 0.9 and odd.count(0) == 0
    )


def _utf8_lines(data: bytes) -> tuple[str, bool]:
    """UTF-8; when some bytes are not, only the lines holding them are read as Windows-1252."""
    try:
        return data.decode(UTF8), False
    except UnicodeDecodeError:
        pass
    text = _lf(data.decode(UTF8, errors="surrogateescape"))
    out, done = [], 0
    for m in _SURROGATE.finditer(text):
        if m.start() < done:
            continue  # on a line already recoded
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        out.append(text[done:start])
        out.append(text[start:end].encode(UTF8, errors="surrogateescape").decode("cp1252", errors="replace"))
        done = end
    out.append(text[done:])
    return "".join(out), True


def lines_of(text: Text) -> pl.Series:
    """Physical lines without their line ends; a final line end does not make an empty last line."""
    body = text.text[:-1] if text.text.endswith("\n") else text.text
    if not body and not text.text:
        return pl.Series("raw", [], pl.String)
    return pl.Series("raw", body.split("\n"), pl.String)


def is_blank(lines: pl.Series) -> pl.Series:
    """Blank lines are never records, in any format."""
    return lines.str.strip_chars().str.len_chars() == 0


def undecodable(raw: pl.Series) -> pl.Series:
    """Which records hold a character that could not be decoded."""
    return raw.str.contains(REPLACEMENT, literal=True).fill_null(False)
