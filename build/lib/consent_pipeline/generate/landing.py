"""Writing files into the landing tree `<out>/<source>/<delivery>/<name>` and counting what was written."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from consent_pipeline.generate.report import GenerationReport

if TYPE_CHECKING:
    from polars._typing import CsvQuoteStyle

BOM = "\ufeff"
# Placed in a field by a feed, turned into a byte Windows-1252 cannot decode when the file is written.
UNDECODABLE_MARK = "\x01"


class Landing:
    """The landing tree being written. Every file goes through here, so the counts are complete."""

    def __init__(self, root: Path, report: GenerationReport) -> None:
        self.root = root
        self.report = report
        self.records: dict[str, int] = defaultdict(int)
        self.files: dict[str, int] = defaultdict(int)
        self.deliveries: dict[str, set[str]] = defaultdict(set)
        self._records_of: dict[Path, int] = {}

    def path(self, source: str, delivery: str, name: str) -> Path:
        return self.root / source / delivery / name

    def write(self, source: str, delivery: str, name: str, data: bytes, records: int) -> Path:
        path = self.path(source, delivery, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.records[source] += records
        self.files[source] += 1
        self.deliveries[source].add(delivery)
        self._records_of[path] = records
        return path

    # --- CSV ----------------------------------------------------------------------------------------------

    def csv(
        self,
        source: str,
        delivery: str,
        name: str,
        frame: pl.DataFrame,
        header: list[str] | None = None,
        *,
        quote_style: CsvQuoteStyle = "necessary",
        header_quotes: str = "plain",
        bom: bool = False,
        cp1252: bool = False,
        eol: str = "\n",
        short_rows: np.ndarray | None = None,
    ) -> int:
        """Write `frame` as CSV under `header` (defaults to its column names; names may repeat).

        header_quotes: `plain` (quote only where CSV needs it), `spaces` (also names with spaces, as Mailchimp
        does), `all`. `short_rows`: row numbers (0-based) cut short after their first few fields (a row with
        missing fields). Returns how many rows were cut.
        """
        names = header if header is not None else frame.columns
        head = ",".join(_quote_name(h, header_quotes) for h in names)
        if quote_style == "always":
            frame = frame.with_columns(pl.all().cast(pl.String).fill_null(""))
        body = (
            frame.write_csv(include_header=False, quote_style=quote_style, line_terminator=eol) if frame.height else ""
        )
        cut = 0
        if short_rows is not None and short_rows.size and frame.height:
            body, cut = _cut_rows(body, eol, short_rows, keep=max(2, len(names) // 3))
        text = head + eol + body
        if bom:
            text = BOM + text
        self.report.bom_files += int(bom)
        self.write(source, delivery, name, _encode(text, cp1252), frame.height)
        if cp1252:
            self.report.cp1252_files += 1
        return cut

    # --- text records ---------------------------------------------------------------------------------------

    def lines(
        self,
        source: str,
        delivery: str,
        name: str,
        lines: pl.Series,
        *,
        eol: str = "\n",
        bom: bool = False,
        cp1252: bool = False,
        extra_records: int = 0,
    ) -> Path:
        """One record a line (JSON lines, registry lists, fixed width)."""
        body = _join(lines, eol)
        if bom:
            body = BOM + body
            self.report.bom_files += 1
        return self.write(source, delivery, name, _encode(body, cp1252), lines.len() + extra_records)

    def json_array(self, source: str, delivery: str, name: str, elements: pl.Series) -> Path:
        """A JSON array, one element a line (the way API dumps are saved)."""
        n = elements.len()
        if n == 0:
            return self.write(source, delivery, name, b"[]\n", 0)
        sep = pl.select(pl.when(pl.int_range(0, n) < n - 1).then(pl.lit(",")).otherwise(pl.lit(""))).to_series()
        body = _join(elements + sep, "\n")
        data = ("[\n" + body + "]\n").encode("utf-8")
        return self.write(source, delivery, name, data, n)

    # --- re-delivery ------------------------------------------------------------------------------------------

    def redeliver(self, source: str, delivery: str, name: str, to_delivery: str) -> bool:
        """Copy a file, byte for byte, into a later delivery (an upstream job re-sending it)."""
        src = self.path(source, delivery, name)
        dst = self.path(source, to_delivery, name)
        if not src.exists() or dst.exists():
            return False
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        records = self._records_of.get(src, 0)
        self.records[source] += records
        self.files[source] += 1
        self.deliveries[source].add(to_delivery)
        self._records_of[dst] = records
        self.report.redelivered_files += 1
        self.report.redelivered_records += records
        return True

    def finish(self) -> None:
        """Copy the counts into the report."""
        r = self.report
        r.records = dict(sorted(self.records.items()))
        r.files_by_source = dict(sorted(self.files.items()))
        r.deliveries_by_source = {s: len(d) for s, d in sorted(self.deliveries.items())}
        r.files = sum(self.files.values())
        r.deliveries = sum(r.deliveries_by_source.values())


def _quote_name(name: str, style: str) -> str:
    needs = any(c in name for c in ',"\n') or (style == "spaces" and " " in name) or style == "all"
    return '"' + name.replace('"', '""') + '"' if needs else name


def _join(lines: pl.Series, eol: str) -> str:
    if lines.len() == 0:
        return ""
    return lines.to_frame("l").write_csv(include_header=False, quote_style="never", line_terminator=eol)


def _encode(text: str, cp1252: bool) -> bytes:
    if not cp1252:
        return text.encode("utf-8")
    # Windows-1252 has no byte for U+0081 .. : the mark becomes 0x81, which no decoder maps to a character.
    return text.encode("cp1252", errors="replace").replace(UNDECODABLE_MARK.encode(), b"\x81")


def _cut_rows(body: str, eol: str, rows: np.ndarray, keep: int) -> tuple[str, int]:
    """Cut the given rows after their first `keep` fields; rows whose first fields hold quotes stay whole
    (cutting inside a quoted field would swallow the next line)."""
    lines = pl.Series(body.split(eol))
    if lines.len() and lines[-1] == "":
        lines = lines.head(lines.len() - 1)
    rows = rows[rows < lines.len()]
    head = lines.gather(rows)
    pattern = r"^([^,\"]*(?:,[^,\"]*){" + str(keep - 1) + r"}),"
    short = head.str.extract(pattern, 1)
    ok = short.is_not_null()
    lines = lines.scatter(rows[ok.to_numpy()], short.filter(ok))
    return _join(lines, eol), int(ok.sum())
