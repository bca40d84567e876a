"""Moved to `source_connectors.readers`; kept while branches that import it are merged."""

from source_connectors.readers import REC, Records, no_rejects, read_csv, read_json, read_lines, rejects_for

read_jsonl = read_json
read_json_array = read_json

__all__ = ["REC", "Records", "no_rejects", "read_csv", "read_json", "read_json_array", "read_jsonl", "read_lines", "rejects_for"]
