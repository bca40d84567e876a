"""What a generation run wrote: the counts a test or a reviewer checks the pipeline's ledger against."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class GenerationReport:
    """Counts of what `generate` wrote.

    `records` counts source records per source as feeds.md defines them (a CSV row, a JSON array element
    or line, a fixed-width record, a legacy trailer included). `bad` counts the injected bad input per kind,
    in the unit the pipeline quarantines: one per record, except the call-centre parts
    (`unmapped_question`, `unverified_opt_in`), which count answers. `bad_by_source` splits it per source.
    """

    out: str
    seed: int
    scale: float
    as_of: str
    customers: int = 0
    prospects: int = 0
    households: int = 0
    files: int = 0
    deliveries: int = 0
    records: dict[str, int] = field(default_factory=dict)
    files_by_source: dict[str, int] = field(default_factory=dict)
    deliveries_by_source: dict[str, int] = field(default_factory=dict)
    bad: dict[str, int] = field(default_factory=dict)
    bad_by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    late_records: dict[str, int] = field(default_factory=dict)
    redelivered_files: int = 0
    redelivered_records: int = 0
    bom_files: int = 0
    cp1252_files: int = 0
    wall_seconds: float = 0.0

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def total_bad(self) -> int:
        return sum(self.bad.values())

    def add_bad(self, source: str, kind: str, count: int) -> None:
        if count <= 0:
            return
        self.bad[kind] = self.bad.get(kind, 0) + int(count)
        per = self.bad_by_source.setdefault(source, {})
        per[kind] = per.get(kind, 0) + int(count)

    def add_late(self, source: str, count: int) -> None:
        if count > 0:
            self.late_records[source] = self.late_records.get(source, 0) + int(count)

    def to_json(self) -> str:
        data = asdict(self)
        data["total_records"] = self.total_records
        data["total_bad"] = self.total_bad
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")
