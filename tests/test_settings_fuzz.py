"""Fuzzing the settings and the rules (hypothesis): whatever text an environment variable, an option or a rules
value holds, the CLI either accepts it as a typed value in range or stops with exit 2 and one line naming the
setting (file and key for rules): never a traceback, and never SQL built from it.

The CLI runs in-process (`cli.main`), so hundreds of values take seconds; everything it would write goes to
a temporary folder that must stay empty.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_pipeline.cli import main
from consent_pipeline.config import load_rules
from consent_pipeline.config.rules import MAX_COUNT, MAX_DAYS, MAX_MONTHS, RulesError
from consent_pipeline.config.settings import MEMORY_LIMIT, SettingsError, parse_size
from consent_pipeline.warehouse import Warehouse
from tests.helpers import ROOT

PREFIX = "consent-pipeline: error: "
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text an operator (or an attacker) could put in a variable: anything printable or not (no NUL: the OS
# cannot hold it), SQL fragments, numbers in every notation, sizes, dates.
SQL = st.sampled_from(
    ["'; CREATE TABLE pwned(x INT); --", "' OR 1=1 --", "$(touch /tmp/pwned)", "4GB'", "\\'", "%s", "{x}"]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "nan", "inf", "-0", "0x10", "1_000", "1,000", "١٢", "½", " 7 ", "+3"]),
)
SIZES = st.builds(
    lambda n, unit, sep: f"{n}{sep}{unit}",
    st.one_of(st.integers(min_value=-5, max_value=10**18), st.floats(allow_nan=True, allow_infinity=True)),
    st.sampled_from(["", "B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "gb", "G", "bytes"]),
    st.sampled_from(["", " ", "\t"]),
)
TIMES = st.one_of(
    st.datetimes(min_value=__import__("datetime").datetime(1, 1, 1)).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "yesterday",
            "now",
            "9999-12-31",
            "0000-00-00",
            "2026-02-30",
            "2026-03-01T25:00:00Z",
            "2026-03-01T06:00:00+99:00",
            "1989-12-31",
            "20260301",
        ]
    ),
)
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=60)
# Bytes that are not UTF-8, as Python reads them from the environment or argv (surrogate escapes).
RAW = st.binary(max_size=20).filter(lambda b: b"\x00" not in b).map(os.fsdecode)
VALUES = st.one_of(TEXT, RAW, SQL, NUMBERS, SIZES, TIMES, st.builds(lambda a, b: a + b, SQL, SIZES))

# Every setting: (environment variable or option, how it is passed).
ENV_SETTINGS = [
    "CONSENT_LANDING",
    "CONSENT_WAREHOUSE",
    "CONSENT_EXTRACTS",
    "CONSENT_RULES",
    "CONSENT_AS_OF",
    "CONSENT_FULL_REBUILD",
    "CONSENT_PERMISSION_BATCH_PARTIES",
    "CONSENT_PARSE_THREADS",
    "CONSENT_MEMORY_LIMIT",
    "CONSENT_TEMP_DIR",
    "CONSENT_SPARK_EXCHANGE",
]
OPTIONS = ["--landing", "--warehouse", "--extracts", "--rules", "--as-of"]


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("CONSENT_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("CONSENT_")]:
            del os.environ[key]
        os.environ.update(saved)


def call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    assert "Traceback" not in err
    return lines[0][len(PREFIX) :]


@FUZZ
@given(setting=st.sampled_from(ENV_SETTINGS + OPTIONS), value=VALUES)
def test_any_setting_value_is_accepted_typed_or_refused_in_one_line(setting: str, value: str) -> None:
    """The landing folder does not exist: a run whose settings all parse stops at that (exit 2, one line);
    one with a bad value stops earlier, naming the setting. Nothing is created either way."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = [
            "run",
            "--landing",
            str(root / "missing"),
            "--warehouse",
            str(root / "w" / "w.duckdb"),
            "--extracts",
            str(root / "x"),
            "--rules",
            str(ROOT / "rules"),
        ]
        env: dict[str, str] = {}
        if setting.startswith("--"):
            at = argv.index(setting) if setting in argv else None
            if at is None:
                argv += [setting, value]
            else:
                argv[at + 1] = value
        else:
            env[setting] = value
            if setting in ("CONSENT_LANDING", "CONSENT_WAREHOUSE", "CONSENT_EXTRACTS", "CONSENT_RULES"):
                option = "--" + setting.removeprefix("CONSENT_").lower()
                at = argv.index(option)
                del argv[at : at + 2]  # the variable is only read when the option is absent
        # in the temporary folder: an empty setting falls back to a default path relative to the working folder,
        # which must not be the checkout's own data/ (a demo's landing there would make this a real run)
        with environment(env), contextlib.chdir(root):
            try:
                code, out, err = call(argv)
            except SystemExit as exc:  # argparse: an option value that starts like an option
                assert exc.code == 2
                return
        line = one_line(err)
        assert code == 2 and out == ""
        if line.startswith(f"{setting}="):
            assert ": " in line[len(setting) :]  # the value, then what is wrong with it
        else:
            assert line.startswith("landing directory ") and line.endswith(" does not exist"), line
        assert list(root.iterdir()) == []  # no warehouse, no lock, no extracts


@FUZZ
@given(value=st.one_of(SIZES, SQL, TEXT, st.builds(lambda a, b: a + b, SIZES, SQL)))
def test_a_memory_limit_reaches_duckdb_as_a_typed_value_or_not_at_all(value: str) -> None:
    """What the parser accepts is a byte count in range, and DuckDB, given it as a parameter, holds exactly
    that cap and nothing else changes; what it refuses names CONSENT_MEMORY_LIMIT."""
    try:
        size = parse_size(value)
    except SettingsError as exc:
        assert str(exc).startswith("CONSENT_MEMORY_LIMIT=")
        return
    if size is None:
        assert value.strip() == ""
        return
    assert MEMORY_LIMIT[0] <= size <= MEMORY_LIMIT[1]
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(Path(tmp) / "w.duckdb", memory_limit=size, temp_directory=None)
        with warehouse.connect() as con:
            cap = con.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchall()[0][0]
            assert con.execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0] == 0
        assert cap  # DuckDB rounds for display; the bytes set are ours
        con = duckdb.connect(str(warehouse.path), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0] == 0
        finally:
            con.close()


# --- rules --------------------------------------------------------------------------------------

# (file, key path, what a valid value is) for every number and enum in rules/.
NUMERIC: list[tuple[str, tuple[Any, ...], tuple[int, int] | str]] = [
    ("policies.yaml", ("frequency_caps", "window_days"), (1, MAX_DAYS)),
    ("policies.yaml", ("frequency_caps", "per_channel", "email"), (1, MAX_COUNT)),
    ("policies.yaml", ("third_party_consent", "lifetime_days"), (1, MAX_DAYS)),
    ("policies.yaml", ("reviews", "interval_months"), (1, MAX_MONTHS)),
    ("policies.yaml", ("segments", "frequent_min_purchases"), (1, MAX_COUNT)),
    ("policies.yaml", ("optout_sla", "GB", "days"), (0, 3_650)),
    ("policies.yaml", ("optout_sla", "US", "business_days"), (0, 2_600)),
    ("policies.yaml", ("registries", "uk_tps", "max_age_days"), (1, MAX_DAYS)),
    ("policies.yaml", ("data_quality", "max_quarantined_share"), "share"),
    ("templates.yaml", ("implied_consent", "purchase_months"), (1, MAX_MONTHS)),
    ("templates.yaml", ("inferred_consent", "purchase_months"), (1, MAX_MONTHS)),
]
ENUMS: list[tuple[str, tuple[Any, ...], set[str] | str]] = [
    ("policies.yaml", ("legacy", "no_flags"), {"legitimate_interest", "no_consent"}),
    ("company.yaml", ("purposes", "marketing.offers", "kind"), {"marketing", "transactional"}),
    ("company.yaml", ("fallback_timezone",), "zone"),
    ("company.yaml", ("default_timezones", "GB"), "zone"),
    (
        "mappings/dnc_registries.yaml",
        ("registries", "uk_tps", "layout"),
        {"area_code_number", "national", "national_fixed_width"},
    ),
]
YAML_VALUES = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    TEXT,
    SQL,
    NUMBERS,
    st.sampled_from(
        [
            "required",
            "no_consent",
            "marketing",
            "Europe/London",
            "America/Atlantis",
            "national",
            "UTC",
            "../../etc/passwd",
            "1e20",
        ]
    ),
    st.lists(st.integers(), max_size=2),
)


@pytest.fixture(scope="module")
def rules_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "rules"
    shutil.copytree(ROOT / "rules", root)
    return root


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _valid(kind: tuple[int, int] | str | set[str], value: Any) -> bool:
    if isinstance(kind, tuple):
        return type(value) is int and kind[0] <= value <= kind[1]
    if kind == "share":
        return type(value) in (int, float) and math.isfinite(value) and 0 <= value <= 1
    if kind == "zone":
        import zoneinfo

        return isinstance(value, str) and value in zoneinfo.available_timezones()
    return isinstance(value, str) and value in kind


@FUZZ
@given(field=st.sampled_from(NUMERIC + ENUMS), value=YAML_VALUES)
def test_any_rules_value_loads_in_range_or_names_the_file_and_key(
    rules_copy: Path, field: tuple[str, tuple[Any, ...], Any], value: Any
) -> None:
    file, path, kind = field
    original = (ROOT / "rules" / file).read_text(encoding="utf-8")
    data = yaml.safe_load(original)
    _set(data, path, value)
    target = rules_copy / file
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    try:
        written = yaml.safe_load(target.read_text(encoding="utf-8"))
        for key in path:
            written = written[key]
        try:
            load_rules(rules_copy)
        except RulesError as exc:
            assert not _valid(kind, written), (written, str(exc))
            assert exc.file == str(target)
            assert exc.key.startswith(".".join(str(p) for p in path[:1])), exc.key
            # and through the CLI: exit 2, one line, the same message (generate reads the rules first)
            code, out, err = call(["generate", "--rules", str(rules_copy), "--out", str(rules_copy)])
            assert code == 2 and out == ""
            assert one_line(err) == str(exc)
        else:
            assert _valid(kind, written), written
    finally:
        target.write_text(original, encoding="utf-8")
