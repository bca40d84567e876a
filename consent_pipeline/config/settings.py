"""Where a run reads and writes, and its 'now': command-line values, else environment, else defaults.

Every value is parsed and checked here, before anything uses it: a value that cannot be used raises
SettingsError naming the setting (the CLI prints it as one line and exits 2). What leaves this module is
typed (paths, a datetime, integers), so nothing downstream interpolates operator text into SQL.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    "landing": "data/landing",
    "warehouse": "data/warehouse/consent.duckdb",
    "extracts": "data/extracts",
    "rules": "rules",
}
ENV = {
    "landing": "CONSENT_LANDING",
    "warehouse": "CONSENT_WAREHOUSE",
    "extracts": "CONSENT_EXTRACTS",
    "rules": "CONSENT_RULES",
    "as_of": "CONSENT_AS_OF",
    "full_rebuild": "CONSENT_FULL_REBUILD",
    "permission_batch_parties": "CONSENT_PERMISSION_BATCH_PARTIES",
    "parse_threads": "CONSENT_PARSE_THREADS",
    "memory_limit": "CONSENT_MEMORY_LIMIT",
    "temp_directory": "CONSENT_TEMP_DIR",
    "engine": "CONSENT_ENGINE",
    "spark_master": "CONSENT_SPARK_MASTER",
    "spark_exchange": "CONSENT_SPARK_EXCHANGE",
}
# The command-line option of a setting, for messages (None: environment only).
OPTION = {
    "landing": "--landing",
    "warehouse": "--warehouse",
    "extracts": "--extracts",
    "rules": "--rules",
    "as_of": "--as-of",
    "full_rebuild": "--full-rebuild",
    "engine": "--engine",
    "spark_master": "--spark-master",
}
# Where the core's SQL steps run (core/lib/engine.py; consent_pipeline/engines/).
ENGINES = ("duckdb", "spark")
# A Spark master URL: local[N] / local[*], spark://, yarn, k8s://, mesos:// or a Spark Connect sc:// endpoint.
_SPARK_MASTER = re.compile(r"(local(\[(\d{1,4}|\*)\])?|yarn|(spark|k8s|mesos|sc)://[^\s'\"]{1,500})")

# A run's "now" must lie in this range: not before the earliest source time the pipeline accepts (older
# source times are quarantined, core/ingest/validate.py), and at most a year past this machine's clock (a later
# one is a typo: a date such as 9999-12-31 also overflows the date arithmetic of every time rule).
EARLIEST_AS_OF = dt.datetime(1990, 1, 1)
MAX_AS_OF_AHEAD = dt.timedelta(days=366)
BATCH_PARTIES = (1, 1_000_000_000)
PARSE_THREADS = (1, 256)
# DuckDB's memory cap: below 64 MB it cannot hold one row group of a wide table; above 1 PiB is a typo.
MEMORY_LIMIT = (64 * 10**6, 2**50)
DEFAULT_MEMORY_LIMIT = 4 * 10**9
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"(\d{1,16}(?:\.\d{1,6})?)\s*([a-z]{0,3})")
_INTEGER = re.compile(r"[+]?\d{1,19}")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting that cannot be used: its name (option or environment variable), value and the problem."""

    def __init__(self, setting: str, value: object, problem: str) -> None:
        self.setting, self.problem = setting, problem
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        super().__init__(f"{setting}={shown}: {problem}")


def _name(key: str, from_cli: bool) -> str:
    """How to name a setting in a message: its option when given on the command line, else its variable."""
    return OPTION[key] if from_cli and key in OPTION else ENV[key]


def parse_utc(text: str) -> dt.datetime:
    """An ISO 8601 time (with Z, an offset, or none meaning UTC) as a naive UTC datetime (ValueError if not)."""
    text = text.strip()
    value = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def parse_as_of(value: str | dt.datetime, setting: str = "--as-of") -> dt.datetime:
    """A run's "now" as naive UTC, within [EARLIEST_AS_OF, the clock + MAX_AS_OF_AHEAD]."""
    if isinstance(value, dt.datetime):
        when = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    else:
        try:
            when = parse_utc(value)
        except (ValueError, OverflowError):
            raise SettingsError(
                setting, value, "not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z or 2026-03-01)"
            ) from None
    latest = dt.datetime.now(dt.UTC).replace(tzinfo=None) + MAX_AS_OF_AHEAD
    if not EARLIEST_AS_OF <= when <= latest:
        raise SettingsError(
            setting,
            value if isinstance(value, str) else when.isoformat(),
            f"must be from {EARLIEST_AS_OF:%Y-%m-%d} to a year after this machine's clock ({latest:%Y-%m-%d})",
        )
    return when


def parse_engine(engine: str | None, spark_master: str | None) -> tuple[str, str]:
    """(engine, spark master) from the given values, else the environment; the master is kept only for spark."""
    key = "engine"
    name = engine if engine else os.environ.get(ENV[key], "").strip()
    setting = _name(key, bool(engine))
    name = (name or "duckdb").lower()
    if name not in ENGINES:
        raise SettingsError(setting, name, f"must be one of {', '.join(ENGINES)}")
    master = spark_master if spark_master else os.environ.get(ENV["spark_master"], "").strip()
    if master and not _SPARK_MASTER.fullmatch(master):
        raise SettingsError(
            _name("spark_master", bool(spark_master)),
            master,
            "must be a Spark master URL: local[*], local[N], spark://host:port, yarn, k8s://..., sc://host:port",
        )
    return name, master if name == "spark" else ""


def parse_path(value: str | Path, setting: str) -> Path:
    text = str(value)
    if not text.strip():
        raise SettingsError(setting, text, "is empty")
    # Control characters and line breaks (C0, DEL, C1, U+2028/9) would split a message or a log line, and a
    # lone surrogate is a name that is not UTF-8.
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in text):
        raise SettingsError(setting, text, "contains a control character or a line break")
    if len(os.fsencode(text)) > 4000:
        raise SettingsError(setting, text, "is longer than 4,000 bytes")
    return Path(text)


def parse_int(text: str, setting: str, bounds: tuple[int, int]) -> int:
    """A whole number (digits, `_` or `,` between groups allowed) within bounds."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    low, high = bounds
    if not _INTEGER.fullmatch(cleaned):
        raise SettingsError(setting, text, f"must be a whole number from {low:,} to {high:,}")
    number = int(cleaned)
    if not low <= number <= high:
        raise SettingsError(setting, text, f"must be from {low:,} to {high:,}")
    return number


def parse_bool(text: str, setting: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(setting, text, "must be one of 1, true, yes, on, 0, false, no, off")


def parse_size(text: str, setting: str = ENV["memory_limit"]) -> int | None:
    """A memory size such as 4GB, 512MiB or 8000000000 (bytes) as bytes; empty means DuckDB's own default
    (80% of RAM). Units: B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024)."""
    if not text.strip():
        return None
    match = _SIZE.fullmatch(text.strip().lower())
    if not match or match.group(2) not in _UNITS:
        raise SettingsError(setting, text, "must be a size such as 4GB, 512MB or 8GiB")
    size = int(float(match.group(1)) * _UNITS[match.group(2)])
    low, high = MEMORY_LIMIT
    if not low <= size <= high:
        raise SettingsError(setting, text, f"must be from {low // 10**6} MB to {high // 2**40} TiB")
    return size


def memory_limit_from_env() -> int | None:
    """CONSENT_MEMORY_LIMIT in bytes (default 4 GB; set empty for DuckDB's default, 80% of RAM)."""
    text = os.environ.get(ENV["memory_limit"])
    return DEFAULT_MEMORY_LIMIT if text is None else parse_size(text)


def spark_exchange_from_env() -> Path | None:
    """CONSENT_SPARK_EXCHANGE: a folder the pipeline process and Spark's executors both reach at this path (a
    shared mount), where step lists' rows and the connectors' batches go as files instead of through Spark's
    driver (None: a local master's scratch folder, else the driver; docs/scale-out.md)."""
    text = os.environ.get(ENV["spark_exchange"], "")
    return parse_path(text, ENV["spark_exchange"]) if text.strip() else None


def temp_directory_from_env() -> Path | None:
    """CONSENT_TEMP_DIR, where DuckDB spills (None: DuckDB's default, `<warehouse>.tmp` beside the file)."""
    text = os.environ.get(ENV["temp_directory"], "")
    return parse_path(text, ENV["temp_directory"]) if text.strip() else None


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    extracts: Path
    rules: Path
    as_of: dt.datetime  # naive UTC: the run's "now" for every time-dependent rule
    # Recompute every golden key and permission instead of only those that can have changed (the result is
    # the same; this is for after a manual repair of the warehouse).
    full_rebuild: bool = False
    # A full permissions build goes by batches of this many parties (CONSENT_PERMISSION_BATCH_PARTIES): one
    # batch up to about 50M permission rows; more keep a very large run's joins in memory.
    permission_batch_parties: int = 2_000_000
    # Deliveries of one source parsed at once (CONSENT_PARSE_THREADS; default one per core, at most 4).
    parse_threads: int = 1
    # Held registry snapshots the operator confirms in this run, as `REGISTRY/DELIVERY` (core/registries/registries.py).
    confirm_registry_snapshots: tuple[str, ...] = ()
    # DuckDB's memory cap in bytes (CONSENT_MEMORY_LIMIT; None: DuckDB's default) and where it spills
    # (CONSENT_TEMP_DIR; None: beside the warehouse file).
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT
    temp_directory: Path | None = None
    # Where the merge, permission and identity steps run (--engine, CONSENT_ENGINE): duckdb (default) or
    # spark, on the master --spark-master / CONSENT_SPARK_MASTER (default local[*]). docs/scale-out.md.
    engine: str = "duckdb"
    spark_master: str = ""
    # CONSENT_SPARK_EXCHANGE (spark_exchange_from_env); kept whatever the engine, so that a run on either
    # removes what a killed Spark run left there.
    spark_exchange: Path | None = None

    @classmethod
    def resolve(
        cls,
        landing: str | Path | None = None,
        warehouse: str | Path | None = None,
        extracts: str | Path | None = None,
        rules: str | Path | None = None,
        as_of: str | dt.datetime | None = None,
        full_rebuild: bool | None = None,
        confirm_registry_snapshots: tuple[str, ...] | list[str] = (),
        engine: str | None = None,
        spark_master: str | None = None,
    ) -> Settings:
        """The settings from the given values, else the environment, else defaults; SettingsError naming
        the setting when one cannot be used."""

        def path(key: str, value: str | Path | None) -> Path:
            from_env = os.environ.get(ENV[key]) if value is None else None
            text = value if value is not None else (from_env or DEFAULTS[key])
            return parse_path(text, _name(key, value is not None))

        # Read in this order, so the first bad one is the one reported.
        landing_path = path("landing", landing)
        warehouse_path = path("warehouse", warehouse)
        extracts_path = path("extracts", extracts)
        rules_path = path("rules", rules)
        if as_of is not None:
            when = parse_as_of(as_of, OPTION["as_of"])
        elif os.environ.get(ENV["as_of"], "").strip():
            when = parse_as_of(os.environ[ENV["as_of"]], ENV["as_of"])
        else:
            when = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        if full_rebuild is None:
            full_rebuild = parse_bool(os.environ.get(ENV["full_rebuild"], ""), ENV["full_rebuild"])
        engine_name = parse_engine(engine, spark_master)
        batch_text = os.environ.get(ENV["permission_batch_parties"], "")
        threads_text = os.environ.get(ENV["parse_threads"], "")
        return cls(
            landing=landing_path,
            warehouse=warehouse_path,
            extracts=extracts_path,
            rules=rules_path,
            as_of=when,
            full_rebuild=full_rebuild,
            permission_batch_parties=(
                parse_int(batch_text, ENV["permission_batch_parties"], BATCH_PARTIES)
                if batch_text.strip()
                else 2_000_000
            ),
            parse_threads=(
                parse_int(threads_text, ENV["parse_threads"], PARSE_THREADS)
                if threads_text.strip()
                else min(4, os.cpu_count() or 1)
            ),
            memory_limit=memory_limit_from_env(),
            temp_directory=temp_directory_from_env(),
            confirm_registry_snapshots=tuple(confirm_registry_snapshots),
            engine=engine_name[0],
            spark_master=engine_name[1],
            spark_exchange=spark_exchange_from_env(),
        )

    @property
    def dagster_home(self) -> Path:
        """Where Dagster keeps the runs' history (the UI reads it): DAGSTER_HOME, else `dagster_home` beside
        the warehouse (`data/warehouse/dagster_home` by default, which the shipped dagster.yaml names)."""
        text = os.environ.get("DAGSTER_HOME", "")
        home = parse_path(text, "DAGSTER_HOME") if text.strip() else self.warehouse.parent / "dagster_home"
        return home.absolute()

    @property
    def snapshots(self) -> Path:
        return self.warehouse.parent / "snapshots"

    @property
    def staging(self) -> Path:
        """Canonical batches between the source assets and the event log (cleared after each ingest)."""
        return self.warehouse.parent / "staging"
