"""The shared readers every feed uses: CSV by column name, JSON in every shape, plain lines.

Each reads record by record where a file is damaged, so one bad record costs only itself (feeds.md "Real
files are messy"), and returns `Records`: the readable records as a frame, the rejected ones with a reason
and their raw text, every record's text, the record count for the ledger, and, for a file that cannot be
read at all, its problem.
"""

from source_connectors.readers.csv_reader import parse_csv, read_csv
from source_connectors.readers.json_reader import Envelopes, parse_json, read_json
from source_connectors.readers.lines import parse_lines, read_lines
from source_connectors.readers.records import REC, FileProblem, Records, no_rejects, rejects_for, unreadable

__all__ = [
    "REC",
    "Envelopes",
    "FileProblem",
    "Records",
    "no_rejects",
    "parse_csv",
    "parse_json",
    "parse_lines",
    "read_csv",
    "read_json",
    "read_lines",
    "rejects_for",
    "unreadable",
]
