"""Logic versions come from the SQL files: editing a step changes its stage's version, and a build recorded
under another version makes the next run rebuild whole (as a hand-made bump used to)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from consent_pipeline.config import Rules
from consent_pipeline.core.golden import golden_scope, merge
from consent_pipeline.core.identity import identity
from consent_pipeline.core.lib.build_state import BuildState, last_build, logic_version, record_build, rules_fingerprint
from consent_pipeline.core.lib.reference import load_reference
from consent_pipeline.core.lib.sql import SqlFileError, SqlFolder
from consent_pipeline.core.permissions import permissions
from consent_pipeline.core.privacy import erasure


def test_editing_a_sql_file_changes_the_version(tmp_path: Path) -> None:
    copy = tmp_path / "sql"
    shutil.copytree(Path(merge.__file__).parent / "sql", copy)
    before = logic_version("merge", copy.glob("*.sql"))
    assert logic_version("merge", copy.glob("*.sql")) == before  # stable
    step = copy / "m_current.sql"
    step.write_text(step.read_text().replace("WHERE replaced_by IS NULL", "WHERE replaced_by IS NULL AND true"))
    edited = logic_version("merge", copy.glob("*.sql"))
    assert edited != before
    (copy / "m_extra.sql").write_text("-- step: m_extra\n-- kind: view\n-- parameters: none\nSELECT 1\n")
    assert logic_version("merge", copy.glob("*.sql")) not in {before, edited}  # a new step counts too


def test_each_stage_version_is_the_hash_of_its_files() -> None:
    # the golden build's: the merge's files and identity's (decided again only where touched)
    golden_files = [*merge.SQL.files(), Path(merge.__file__), *identity.SQL.files(), Path(identity.__file__)]
    assert logic_version("merge", golden_files) == merge.LOGIC_VERSION
    assert len(merge.SQL.files()) >= 7
    assert (
        logic_version("permissions", [*permissions.SQL.files(), Path(permissions.__file__)])
        == permissions.LOGIC_VERSION
    )
    assert logic_version("erasure", [*erasure.SQL.files(), Path(erasure.__file__)]) == erasure.LOGIC_VERSION


def test_a_build_of_other_logic_is_rebuilt_whole(rules: Rules) -> None:
    con = duckdb.connect()
    load_reference(con, rules)
    for table in golden_scope.PREVIOUS:
        con.execute(f"CREATE TABLE {table} (x INTEGER)")
    assert not golden_scope.golden_scope(con).incremental  # no build recorded yet
    record_build(con, BuildState("golden", "merge-0123456789abcdef", rules_fingerprint(con), seq=1, full_seq=1))
    scope = golden_scope.golden_scope(con)
    assert not scope.incremental
    assert "merge logic changed" in scope.reason
    record_build(con, BuildState("golden", merge.LOGIC_VERSION, rules_fingerprint(con), seq=2, full_seq=1))
    assert last_build(con, "golden") == BuildState(
        "golden", merge.LOGIC_VERSION, rules_fingerprint(con), seq=2, full_seq=1
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("SELECT 1\n", "step: bad"),
        ("-- step: bad\n-- kind: table\nSELECT 1\n", "parameters"),
        ("-- step: bad\n-- kind: tabel\n-- parameters: none\nSELECT 1\n", "kind"),
        ("-- step: bad\n-- kind: table\n-- parameters: none\nSELECT {as_of}\n", "differ"),
        ("-- step: bad\n-- kind: table\n-- parameters: as_of (time)\nSELECT {as_of}\n", "name (type)"),
    ],
)
def test_a_malformed_sql_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "bad.sql").write_text(text)
    with pytest.raises(SqlFileError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        SqlFolder(tmp_path / "sql").step("bad")
