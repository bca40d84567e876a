"""The Spark engine: a stage's SQL steps run on Apache Spark; the warehouse's DuckDB file stays the commit point.

For each `Step` list a stage hands over (`Engine.run_steps`):
1. the steps are rendered with their parameters and transpiled by sqlglot (DuckDB SQL -> Spark SQL, one
   statement each; the engine-neutral lint keeps every `.sql` file within what transpiles faithfully);
2. the tables they read that no step of the list makes (warehouse tables, reference `ref_*` tables, earlier
   stages' temporary tables) are sent from the warehouse connection to Spark as Arrow, under their names;
3. each step runs on Spark under its name (a table step cached, a view step lazy), so later steps read it as
   they do on DuckDB;
4. the results something outside the list reads (`read_elsewhere`) come back to the warehouse connection as
   temporary tables of their names, with the column types DuckDB gives the same SQL (`DESCRIBE`), so what the
   stage writes next is the same table whichever engine computed it. Spark's cached frames are dropped at
   the end of the list. Rows go as Parquet files in a folder both sides reach (a local master's scratch folder,
   or the shared folder CONSENT_SPARK_EXCHANGE names), else as Arrow through the driver.

The warehouse's large derived tables (PARQUET_TABLES) are kept as Parquet versions behind views
(core/lib/parquet_tables.py): a step list reads them from their files, with no row sent, and a step whose
result the stage writes whole (`writes`) is written by the executors as the table's next version, which the
stage's write adopts (no row comes back); a scope's rows replaced in one are replaced by the executors
(the version in force read from its files, only the new rows and the scope's keys sent). The rest of the
warehouse (transactions, build state, the ingested tables, erasure's rewrite) stays DuckDB: the DuckDB file is
the catalog and the commit point.

The connectors run on the executors (`map_tasks`): tasks of contiguous deliveries, `mapInArrow` over their
indices, each connector's batch pickled back (as files in that folder, else through the driver).

Spark runs with `spark.sql.session.timeZone=UTC` and `spark.sql.timestampType=TIMESTAMP_NTZ`: the pipeline's
timestamps are naive UTC. pyspark is optional (`pip install .[spark]`, Java 17): imported when a session
starts, never when this module is. One session per process (Spark allows one context), started on first use
and stopped when the process ends, so many runs in one process (the parity tests) pay its start once.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import importlib.util
import logging
import os
import pickle
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from consent_pipeline.core.lib import parquet_tables
from consent_pipeline.core.lib.engine import StepError
from consent_pipeline.core.lib.sql import Step, temp_kind, temp_view, write_table
from consent_pipeline.lib import faults

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
# Settings every session gets (a cluster's own spark-defaults.conf or Spark Connect server may add more).
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# For a local master only: few shuffle partitions (the default 200 costs seconds a step on small tables) and
# a driver heap within the pipeline's memory budget.
LOCAL_CONF: dict[str, str] = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "4g"}
# While no table of the warehouse (or the connection) holds more rows than this, a step list exchanges its rows
# as Arrow through the driver even with a local master: writing and committing a Parquet folder per step costs
# more than small tables' rows do (a public scenario: 20.8 s against 36.2 s on Spark); larger ones go as Parquet
# files, which keep the rows out of the driver's heap (at scale 1 the permission keys ran a 4 GB driver out of it).
DRIVER_EXCHANGE_ROWS = 200_000
# The large derived tables a Spark run keeps as Parquet versions behind views (core/lib/parquet_tables.py), which
# a later step list reads from their files instead of the pipeline process sending their rows. Each is written
# only through `write_table`, so that every write of it is a new version (tests/unit/test_parquet_tables.py).
PARQUET_TABLES = frozenset(
    {"consent_effects", "consent_history", "consent_current", "contact_permission", "suppression", "segments"}
)


class SparkUnavailable(RuntimeError):
    """pyspark (or Java) is missing: the message says how to install it."""


def spark_missing() -> str | None:
    """Why the Spark engine cannot start on this machine (pyspark or Java missing), or None; checked before a
    run reads anything, without starting Spark."""
    if importlib.util.find_spec("pyspark") is None:
        return "--engine spark needs pyspark: pip install '.[spark]' (docs/scale-out.md)"
    java_home = os.environ.get("JAVA_HOME", "")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java") is None:
        return "--engine spark needs Java 17 or 21 (java on the PATH, or JAVA_HOME; docs/scale-out.md)"
    return None


class SparkStepError(StepError):
    """A step Spark could not run: the step's name and the root cause Spark gave."""


def _root_cause(error: BaseException) -> str:
    """The innermost Java exception of a Py4J error (its message is otherwise a page of stack trace), else the
    error's own first line."""
    java = getattr(error, "java_exception", None)
    if java is not None:
        while java.getCause() is not None:
            java = java.getCause()
        return str(java.toString())
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def transpile(sql: str) -> str:
    """DuckDB SQL -> Spark SQL (one statement)."""
    out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    if len(out) != 1:
        raise ValueError(f"expected one statement, got {len(out)}")
    return out[0]


def step_inputs(steps: Iterable[tuple[str, str]]) -> list[str]:
    """The tables a list of (name, rendered SQL) steps reads that no earlier step of the list makes, in
    first-read order (common table expressions excluded)."""
    made: set[str] = set()
    found: list[str] = []
    for name, sql in steps:
        tree = sqlglot.parse_one(sql, read="duckdb")
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            t = table.name
            if t and t not in made and t not in ctes and t not in found:
                found.append(t)
        made.add(name)
    return found


_SESSION: dict[str, Any] = {}  # master -> the process's one SparkSession
_LOCAL_DIRS: list[str] = []
_SHARED_DIRS: list[Path] = []  # this process's folders in shared exchange folders, removed when it ends


def local_exchange() -> Path | None:
    """A folder the pipeline and a local Spark both read and write (inside Spark's scratch folder), or None for
    a remote master, whose executors cannot see this machine's disk."""
    return Path(_LOCAL_DIRS[0]) / "exchange" if _LOCAL_DIRS else None


def exchange_name(pid: int) -> str:
    """The name of a process's folder in a shared exchange folder (CONSENT_SPARK_EXCHANGE): its host and process
    id, so that the next run on the same host removes the folder of one that was killed (core/lib/orphans.py)."""
    return f".spark-exchange.{socket.gethostname()}.{pid}"


def exchange_missing(root: Path | None) -> str | None:
    """Why the shared exchange folder cannot be used (it is not a folder here), or None (none set, or there)."""
    if root is None or root.is_dir():
        return None
    return (
        f"the Spark exchange folder {root} (CONSENT_SPARK_EXCHANGE) is not a folder on this machine: mount the "
        "folder Spark's executors share, or unset the variable"
    )


def shared_exchange(root: Path) -> Path:
    """This process's folder in the shared exchange folder `root` (made on first use, removed when the process
    ends). `root` must exist: a missing one is a mount that is not there, where executors would not see the
    files either."""
    folder = root / exchange_name(os.getpid())
    if folder not in _SHARED_DIRS:
        missing = exchange_missing(root)
        if missing:
            raise SparkUnavailable(missing)
        folder.mkdir(exist_ok=True)
        if not _SHARED_DIRS:
            atexit.register(_remove_shared)
        _SHARED_DIRS.append(folder)
    return folder


def _remove_shared() -> None:
    for folder in _SHARED_DIRS:
        shutil.rmtree(folder, ignore_errors=True)
    _SHARED_DIRS.clear()


def scratch_name(pid: int) -> str:
    """The name of a process's Spark scratch folder beside the warehouse (core/lib/orphans.py removes one
    whose process is gone: a killed run cannot remove its own)."""
    return f".spark-scratch.{pid}"


def spark_session(
    master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None, scratch_in: Path | None = None
) -> Any:
    """The process's Spark session (started on first use; later calls get the same one whatever the master,
    as Spark allows one context a process)."""
    if _SESSION:
        running_master, session = next(iter(_SESSION.items()))
        if running_master != master:
            log.warning("a Spark session for %s is running; %s not started", running_master, master)
        return session
    try:
        sql_module = importlib.import_module("pyspark.sql")
    except ImportError:  # optional dependency
        raise SparkUnavailable(
            "the Spark engine needs pyspark: pip install '.[spark]' (and Java 17; docs/scale-out.md)"
        ) from None
    started = time.perf_counter()
    builder = sql_module.SparkSession.builder.appName("consent-pipeline")
    connect = master.startswith("sc://")
    builder = builder.remote(master) if connect else builder.master(master)
    settings = dict(BASE_CONF)
    if master.startswith("local"):
        # the executors' Python workers run this interpreter, which has the project and its packages (a cluster's
        # executors run the Python its PYSPARK_PYTHON names, with the project installed: docs/scale-out.md)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Spark's own scratch files (shuffles, spills) in a folder of ours, removed when the process ends: the
        # rows it holds are personal data, which must not outlive the run on any disk (semantics, erasure).
        if scratch_in is not None:  # beside the warehouse: the pipeline's own disk, cleaned after a kill
            folder = scratch_in / scratch_name(os.getpid())
            folder.mkdir(parents=True, exist_ok=True)
            local_dir = str(folder)
        else:
            local_dir = tempfile.mkdtemp(prefix="consent-spark-")
        _LOCAL_DIRS.append(local_dir)
        settings |= LOCAL_CONF | {"spark.local.dir": local_dir}
    settings |= dict(conf or {})
    if connect:  # the server's UI is its own (static settings a Connect session cannot change: a warning each)
        settings = {k: v for k, v in settings.items() if not k.startswith("spark.ui.")}
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as e:  # no Java, a master that does not answer: say so, with Spark's own words
        raise SparkUnavailable(f"could not start Spark ({master}): {_root_cause(e)}") from None
    if not connect:
        session.sparkContext.setLogLevel("ERROR")
    _SESSION[master] = session
    atexit.register(_stop)
    log.info("spark session (%s) started in %.1fs", master, time.perf_counter() - started)
    return session


def _stop() -> None:
    for session in _SESSION.values():
        try:
            session.stop()
        except Exception:  # the JVM is already gone (killed, out of memory): nothing left to stop
            log.debug("spark session already stopped", exc_info=True)
    _SESSION.clear()
    for folder in _LOCAL_DIRS:
        shutil.rmtree(folder, ignore_errors=True)
    _LOCAL_DIRS.clear()


def _sendable(table: pa.Table) -> pa.Table:
    """An Arrow table Spark's createDataFrame takes: dictionary columns (DuckDB enums) as their values, and at
    least one chunk per column (Spark fails on a table with none)."""
    fields = [pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema]
    schema = pa.schema(fields)
    if table.num_rows == 0:
        return pa.Table.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)
    return table.cast(schema) if schema != table.schema else table


PACKAGE = Path(__file__).resolve().parents[1]  # consent_pipeline/

T = TypeVar("T")
R = TypeVar("R")
# Tasks of one map_tasks call, per core Spark has (items split into contiguous runs): a task costs some 40 ms
# of a core locally (100 one-item tasks 4.1 s on local[2], against 0.15 s for one), more than a small delivery
# takes to parse; two a core even out runs of unequal work.
TASKS_PER_CORE = 2
TASK_SCHEMA = "i long, part int, data binary"
# A result through the driver goes in pieces of this size (a binary value, like a JVM array, stays below 2 GB).
CHUNK = 64 << 20


@dataclass(frozen=True)
class _Tasks(Generic[T, R]):
    """The function mapInArrow runs on an executor: `fn` over the items whose indices its partition holds, each
    outcome (its result, or the exception it raised) pickled into `folder` (the exchange folder) or returned in
    chunks of `data`."""

    fn: Callable[[T], R]
    items: tuple[T, ...]
    folder: str | None
    chunk: int = CHUNK

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        schema = pa.schema([("i", pa.int64()), ("part", pa.int32()), ("data", pa.binary())])
        for batch in batches:
            for i in batch.column(0).to_pylist():
                data = _outcome(self.fn, self.items[i])
                if self.folder is not None:  # the rows stay out of the JVM: a file the driver reads
                    Path(self.folder, f"{i}.pickle").write_bytes(data)
                    pieces = [b""]
                else:
                    pieces = [data[k : k + self.chunk] for k in range(0, len(data), self.chunk)] or [b""]
                yield pa.RecordBatch.from_pydict(
                    {"i": [i] * len(pieces), "part": list(range(len(pieces))), "data": pieces}, schema=schema
                )


def _outcome(fn: Callable[[T], R], item: T) -> bytes:
    """`(True, fn(item))` pickled, or `(False, the exception)` (as a RuntimeError naming it when it does not
    pickle)."""
    try:
        return pickle.dumps((True, fn(item)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        try:
            return pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


@functools.cache
def _code() -> tuple[tuple[Path, str], ...]:
    """Every `.py` and `.sql` file of the package, with its text (read once per process)."""
    return tuple((p, p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*")) if p.suffix in (".py", ".sql"))


@functools.cache
def read_elsewhere(name: str, listed: frozenset[str]) -> bool:
    """Whether anything but the steps of its own list can read step `name`'s result: a Python module naming it
    (other than where the step is declared, `step("name")`), or the SQL file of a step outside the list. Only
    those results come back from Spark; the others stay intermediate (cached in Spark, computed once, with no
    job of their own). Conservative: a mention in a comment keeps the result too."""
    word = re.compile(rf"\b{re.escape(name)}\b")
    declared = f'step("{name}")'
    for path, text in _code():
        if path.suffix == ".sql":
            if path.stem not in listed and word.search(text):
                return True
        elif word.search(text.replace(declared, "")):
            return True
    return False


def _tables_at_most(con: duckdb.DuckDBPyConnection, limit: int) -> bool:
    """Whether every table of the warehouse and of the connection holds `limit` rows at most (DuckDB's row counts
    and the Parquet versions', no scan): then the steps' inputs, views over those tables included, and their
    results are small too."""
    largest = con.execute("SELECT coalesce(max(estimated_size), 0) FROM duckdb_tables()").fetchall()[0][0]
    kept = max((rows for _, rows in parquet_tables.kept(con).values()), default=0)
    return max(int(largest), kept) <= limit


def _literal(path: Path) -> str:
    """A path as Spark's readers take it literally: they read `[ ] { } * ?` as a pattern (Hadoop's glob), so a
    folder named with one (the exchange folder, the warehouse's) would not be found; a backslash escapes them."""
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", str(path))


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@dataclass
class _Pending:
    """A step's result the executors wrote as the next version of `table` (a `writes` step), waiting for the
    stage's write to adopt it: its folder (in the exchange folder), its files, and DuckDB's columns for it."""

    table: str
    folder: Path
    files: list[str]
    columns: list[tuple[Any, ...]]


class SparkEngine:
    """Runs a stage's steps on Spark (see the module's docstring). `master`: `local[*]` (default), `local[2]`,
    `spark://host:7077`, `yarn`, ... or a Spark Connect endpoint `sc://host:15002`."""

    name = "spark"
    writes_in_place = False

    def __init__(
        self,
        master: str = DEFAULT_MASTER,
        conf: Mapping[str, str] | None = None,
        through_driver: bool = False,
        scratch_in: Path | None = None,
        driver_exchange_rows: int = DRIVER_EXCHANGE_ROWS,
        exchange_in: Path | None = None,
    ) -> None:
        self.master = master
        self.scratch_in = scratch_in  # where a local session's scratch folder goes (None: the system's temp)
        # a folder the executors share with this process (CONSENT_SPARK_EXCHANGE): rows go there as files
        self.exchange_in = exchange_in
        self.through_driver = through_driver  # rows as Arrow through the driver even when Spark is local
        self.driver_exchange_rows = driver_exchange_rows  # ... and while no table is larger than this
        self.conf = dict(conf or {})
        self._spark: Any = None
        self._lists = 0  # step lists run, naming each one's exchange folder
        self._pending: dict[str, _Pending] = {}  # step name -> its result written as a table's next version
        self.chunk_bytes = CHUNK  # a task's result through the driver goes in pieces of this size

    @property
    def spark(self) -> Any:
        if self._spark is None:
            self._spark = spark_session(self.master, self.conf, self.scratch_in)
        return self._spark

    def exchange_folder(self) -> Path | None:
        """Where rows and batches go as files, read by the other side from the same path: the shared exchange
        folder when one is set, else a local session's scratch folder; None: through the driver (a remote
        master's executors cannot see this machine's disk). The session is started first: it makes the
        scratch folder."""
        if self.through_driver:
            return None
        # the shared folder first: a missing one stops the run before a session starts
        shared = shared_exchange(self.exchange_in) if self.exchange_in is not None else None
        _ = self.spark  # a local session makes the scratch folder
        return shared or local_exchange()

    def run_steps(
        self,
        con: duckdb.DuckDBPyConnection,
        steps: Sequence[Step],
        params: Mapping[str, str] | None = None,
        writes: Mapping[str, str] | None = None,
    ) -> None:
        rendered = [(s, s.sql.format(**(params or {}))) for s in steps]
        for s in steps:  # a result of an earlier list under a name this list makes again is stale
            self._drop_pending(s.name)
        inputs = step_inputs((s.name, sql) for s, sql in rendered)
        listed = frozenset(s.name for s in steps)
        wanted = {s.name for s in steps if read_elsewhere(s.name, listed)} | {steps[-1].name} if steps else set()
        cached: list[Any] = []
        placeholders: list[str] = []
        spark = self.spark
        exchange = self._rows_as_files(con)
        if exchange is not None:
            self._lists += 1
            exchange = exchange / str(self._lists)
            exchange.mkdir(parents=True)
        try:
            started = time.perf_counter()
            versions = parquet_tables.kept(con) if exchange is not None else {}
            for name in inputs:
                if name in versions:  # a table kept as Parquet: Spark reads its version's files where they are
                    self._read_version(name, versions[name][0])
                    continue
                if exchange is not None and name in self._pending:  # as read from the executors' files
                    pending = self._pending[name]
                    self._read_version(name, [pending.folder / f for f in pending.files])
                    continue
                self._send(con, name, exchange)
            log.debug("spark inputs %s: %.2fs", ", ".join(inputs), time.perf_counter() - started)
            for step, sql in rendered:
                started = time.perf_counter()
                try:
                    frame = self.spark.sql(transpile(sql))
                    if not step.view:
                        frame = frame.persist()  # filled by toArrow below, read by later steps without recomputing
                        cached.append(frame)
                    frame.createOrReplaceTempView(step.name)
                    table = (writes or {}).get(step.name)
                    if (
                        exchange is not None
                        and table in PARQUET_TABLES
                        and self._write_pending(con, step.name, sql, frame, table)
                    ):
                        log.debug(
                            "spark step %s: %.2fs (as %s's next version)",
                            step.name,
                            time.perf_counter() - started,
                            table,
                        )
                        continue
                    if step.name not in wanted:
                        # an empty table of its columns, only so that DuckDB can type the later steps that read
                        # it; dropped with the list, so that a reader read_elsewhere missed fails loudly
                        self._bring_back(con, step.name, sql, None)
                        placeholders.append(step.name)
                        continue
                    result = self._receive(frame, step.name, exchange)
                except Exception as e:  # Py4J's message is a Java stack trace: name the step and the root cause
                    cause = _root_cause(e)
                    raise SparkStepError(f"step {step.name} failed on Spark ({self.master}): {cause}") from None
                self._bring_back(con, step.name, sql, result)
                log.debug("spark step %s: %.2fs", step.name, time.perf_counter() - started)
        finally:
            # nothing of this list stays in Spark: a view of sent rows holds them in the driver's memory, and
            # every later list sends what it reads afresh (the warehouse may have changed it since)
            for frame in cached:
                frame.unpersist()
            for name in [*inputs, *(s.name for s, _ in rendered)]:
                spark.catalog.dropTempView(name)
            if exchange is not None:  # the rows exchanged are personal data: gone with the list
                shutil.rmtree(exchange, ignore_errors=True)
            for name in placeholders:
                con.execute(f"DROP TABLE IF EXISTS {name}")

    def write_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        source: str,
        where: str | None = None,
        order: str | None = None,
    ) -> None:
        """The large derived tables (PARQUET_TABLES) as a new Parquet version, the others in the DuckDB file. A
        scope's rows replaced in a table kept as Parquet, while rows go as files, are replaced by the executors."""
        pending = self._pending.get(source)
        if pending is not None and pending.table == table and where is None and order is None:
            self._adopt(con, source, pending)
        elif table in PARQUET_TABLES and where is not None and order is None and self._scoped_on_executors(con, table):
            self._write_scoped(con, table, source, where)
        elif table in PARQUET_TABLES:
            parquet_tables.write_version(con, table, source, where, order)
        else:
            write_table(con, table, source, where, order)

    def _rows_as_files(self, con: duckdb.DuckDBPyConnection) -> Path | None:
        """The exchange folder when a step list on `con` exchanges rows as files, else None (through the driver:
        every table small, or no folder the executors share)."""
        if _tables_at_most(con, self.driver_exchange_rows):
            return None
        return self.exchange_folder()

    def _scoped_on_executors(self, con: duckdb.DuckDBPyConnection, table: str) -> bool:
        """Whether a scoped write of `table` goes to the executors: it is kept as Parquet (a DuckDB run's table is
        in the file) and its step list will exchange rows as files."""
        return table in parquet_tables.kept(con) and self._rows_as_files(con) is not None

    def _write_scoped(self, con: duckdb.DuckDBPyConnection, table: str, source: str, where: str) -> None:
        """`table`'s next version by the executors: the rows of its version in force that `where` does not select
        (read from their files) and `source`'s, as one step whose result is written as the version (`writes`),
        then adopted. The pipeline process sends only `source` and the scope's tables; the table's rows stay on
        the executors' side (at scale 10, 48M permission rows for a night's 1% of parties)."""
        columns = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        names = ", ".join(f'"{c[0]}"' for c in columns)
        name = f"next_{table}"
        # `coalesce(..., false)`: a row the condition leaves NULL is kept, as DELETE ... WHERE and write_version keep it
        sql = (
            f"SELECT {names} FROM {table} WHERE NOT coalesce(({where}), false) "
            f"UNION ALL SELECT {parquet_tables.casts(columns)} FROM {source}"  # as an INSERT would cast them
        )
        self.run_steps(con, [Step(name, sql.replace("{", "{{").replace("}", "}}"), view=True)], writes={name: table})
        try:
            pending = self._pending.get(name)
            if pending is not None:
                self._adopt(con, name, pending)
            else:  # no rows: it came back as an empty table
                parquet_tables.write_version(con, table, name)
        finally:
            self._drop_pending(name)
            kind = temp_kind(con, name)
            if kind is not None:
                con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {name}")

    def _write_pending(self, con: duckdb.DuckDBPyConnection, name: str, sql: str, frame: Any, table: str) -> bool:
        """Step `name`'s result written by the executors as `table`'s next version, in a folder of the exchange
        folder (no row crosses the pipeline process), and on the warehouse connection a temporary view of the
        step's name over its files, typed as DuckDB types the SQL. False (nothing kept) when it has no rows:
        it comes back as any result does."""
        root = self.exchange_folder()
        assert root is not None  # called only when rows go as files
        self._lists += 1
        folder = root / "pending" / f"{name}.{self._lists}"
        frame.write.mode("overwrite").parquet(str(folder))
        files = sorted(f.name for f in folder.glob("*.parquet"))
        if not files:
            shutil.rmtree(folder, ignore_errors=True)
            return False
        columns = con.execute(f"DESCRIBE {sql}").fetchall()  # binds only: nothing is computed
        got = [
            c[0] for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_quoted(folder / files[0])})").fetchall()
        ]
        if sorted(c[0] for c in columns) != sorted(got):
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"step {name}: Spark's columns {got} differ from DuckDB's {[c[0] for c in columns]}")
        self._pending[name] = _Pending(table, folder, files, columns)
        self._view_over(con, name, columns, [folder / f for f in files])
        return True

    def _adopt(self, con: duckdb.DuckDBPyConnection, name: str, pending: _Pending) -> None:
        """The executors' files of step `name` become its table's version in force: moved (a rename when the
        exchange folder is on the warehouse's disk) and switched to in the caller's transaction."""
        del self._pending[name]
        version = uuid.uuid4().hex
        dest = parquet_tables.root(con) / pending.table / version
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(pending.folder, dest)
        files = [dest / f for f in pending.files]
        self._view_over(con, name, pending.columns, files)  # the step's view follows its files
        rows = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
        parquet_tables.switch(con, pending.table, version, pending.files, rows, pending.columns)

    def _drop_pending(self, name: str) -> None:
        pending = self._pending.pop(name, None)
        if pending is not None:
            shutil.rmtree(pending.folder, ignore_errors=True)

    @staticmethod
    def _view_over(
        con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[Any, ...]], files: list[Path]
    ) -> None:
        temp_view(con, name, parquet_tables.over_files(columns, files))

    def map_tasks(self, fn: Callable[[T], R], items: Sequence[T], threads: int = 1) -> list[R]:
        """`[fn(x) for x in items]` on the executors, in tasks of contiguous items (TASKS_PER_CORE a core;
        `threads` is the executors' affair). An exception `fn` raises is raised here; Spark failing the tasks is a
        SparkStepError."""
        if not items:
            return []
        folder = self.exchange_folder()
        spark = self.spark
        if folder is not None:
            self._lists += 1
            folder = folder / f"tasks{self._lists}"
            folder.mkdir(parents=True)
        tasks = _Tasks(fn, tuple(items), str(folder) if folder is not None else None, self.chunk_bytes)
        started = time.perf_counter()
        try:
            try:
                frame = spark.range(len(items), numPartitions=min(len(items), self._task_slots()))
                done = frame.mapInArrow(tasks, TASK_SCHEMA).toArrow()
            except Exception as e:
                raise SparkStepError(f"tasks failed on Spark ({self.master}): {_root_cause(e)}") from None
            faults.pause("spark:tasks")  # the tasks' results are in the exchange folder (a test kills the run here)
            pieces: dict[int, list[tuple[int, bytes]]] = {}
            for i, part, data in zip(*(done.column(c).to_pylist() for c in ("i", "part", "data")), strict=True):
                pieces.setdefault(i, []).append((part, data))
            if sorted(pieces) != list(range(len(items))):
                raise SparkStepError(f"tasks on Spark ({self.master}) returned {len(pieces)} of {len(items)} results")
            results: list[R] = []
            for i in range(len(items)):
                if folder is not None:
                    data = (folder / f"{i}.pickle").read_bytes()
                else:
                    data = b"".join(d for _, d in sorted(pieces[i]))
                ok, value = pickle.loads(data)  # our own tasks' output, from our own scratch folder
                if not ok:
                    raise value
                results.append(value)
            log.info("%d tasks on Spark (%s) in %.2fs", len(items), self.master, time.perf_counter() - started)
            return results
        finally:
            if folder is not None:  # what the tasks made of the files is personal data: gone with the call
                shutil.rmtree(folder, ignore_errors=True)

    def _task_slots(self) -> int:
        """How many tasks a map_tasks call makes at most: TASKS_PER_CORE for each core Spark has (a Connect
        session cannot ask: spark.default.parallelism if set, else 8 cores)."""
        try:
            cores = int(self.spark.sparkContext.defaultParallelism)
        except Exception:  # Spark Connect has no SparkContext
            cores = int(self.spark.conf.get("spark.default.parallelism", "8"))
        return max(1, TASKS_PER_CORE * cores)

    def _read_version(self, name: str, files: list[Path]) -> None:
        """A table kept as Parquet as a Spark temporary view of its name, over its version's files (which the
        executors see: the exchange is by files, so they share this disk or the warehouse's mount)."""
        try:
            self.spark.read.parquet(*(_literal(f) for f in files)).createOrReplaceTempView(name)
        except Exception as e:
            raise SparkStepError(f"table {name} could not be read by Spark ({self.master}): {_root_cause(e)}") from None

    def _send(self, con: duckdb.DuckDBPyConnection, name: str, exchange: Path | None) -> None:
        """A warehouse-side table (or temporary table or view) as a Spark temporary view of its name: through
        a Parquet file in the exchange folder (executors read it, nothing held in the driver's memory), else as
        Arrow through the driver."""
        try:
            if exchange is not None:
                path = exchange / f"in_{name}.parquet"
                con.execute(f"COPY (SELECT * FROM {name}) TO {_quoted(path)} (FORMAT parquet)")
                self.spark.read.parquet(_literal(path)).createOrReplaceTempView(name)
                return
            table = _sendable(con.sql(f"SELECT * FROM {name}").to_arrow_table())
            if table.num_rows == 0:  # Spark Connect cannot infer a schema from no rows: it is given
                types = importlib.import_module("pyspark.sql.pandas.types")
                frame = self.spark.createDataFrame([], schema=types.from_arrow_schema(table.schema))
            else:
                frame = self.spark.createDataFrame(table)
            frame.createOrReplaceTempView(name)
        except Exception as e:
            raise SparkStepError(f"table {name} could not be sent to Spark ({self.master}): {_root_cause(e)}") from None

    @staticmethod
    def _receive(frame: Any, name: str, exchange: Path | None) -> pa.Table | Path:
        """The step's rows: written by the executors to Parquet files in the exchange folder, else collected as
        Arrow through the driver."""
        if exchange is None:
            return frame.toArrow()
        path = exchange / f"out_{name}"
        frame.write.mode("overwrite").parquet(str(path))
        return path

    @staticmethod
    def _bring_back(con: duckdb.DuckDBPyConnection, name: str, sql: str, result: pa.Table | Path | None) -> None:
        """The step's result as a temporary table on the warehouse connection, typed as DuckDB types the SQL."""
        columns = con.execute(f"DESCRIBE {sql}").fetchall()  # binds only: nothing is computed
        names = [c[0] for c in columns]
        files = sorted(result.glob("*.parquet")) if isinstance(result, Path) else []
        if result is None or (isinstance(result, Path) and not files):  # no rows to check or insert
            got = names
        elif isinstance(result, Path):
            got = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_quoted(files[0])})").fetchall()]
        else:
            got = result.column_names
        if sorted(names) != sorted(got) or len(set(names)) != len(names):
            raise RuntimeError(f"step {name}: Spark's columns {got} differ from DuckDB's {names}")
        ddl = ", ".join(f'"{c[0]}" {c[1]}' for c in columns)
        if temp_kind(con, name) == "VIEW":  # an earlier DuckDB run of the step left a view of that name
            con.execute(f"DROP VIEW {name}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({ddl})")
        # by name: a join USING (...) puts its columns first on Spark, where DuckDB keeps the left table's order
        listed = ", ".join(f'"{n}"' for n in names)
        if isinstance(result, Path):
            if files:
                paths = ", ".join(_quoted(f) for f in files)
                con.execute(f"INSERT INTO {name} SELECT {listed} FROM read_parquet([{paths}])")
        elif result is not None and result.num_rows:
            con.register("_spark_result", result)
            try:
                con.execute(f"INSERT INTO {name} SELECT {listed} FROM _spark_result")
            finally:
                con.unregister("_spark_result")
