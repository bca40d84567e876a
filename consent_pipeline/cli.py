"""`consent-pipeline`: generate sample landing data, run the pipeline, explain a contact point, purge old
snapshots."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence

from consent_pipeline.config import RulesError, Settings, load_rules
from consent_pipeline.config.settings import SettingsError, parse_as_of, parse_int, parse_path
from consent_pipeline.lib.safe_paths import UnsafePath
from consent_pipeline.preflight import CouldNotStart, started
from consent_pipeline.warehouse import Warehouse, WarehouseLocked
from consent_pipeline.warehouse.database import SpillDirectoryError


class CliError(Exception):
    """A reason the command could not run: printed as one line on stderr, exit status 2."""


def _fail(message: str) -> int:
    print(f"consent-pipeline: error: {message}", file=sys.stderr)
    return 2


# --- generate -----------------------------------------------------------------------------------


MAX_SCALE = 1000.0  # 110 million customers: far beyond a machine's disk at about 1 GB per unit of scale


def _scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise SettingsError("--scale", text, "must be a number such as 0.1, 1 or 10") from None
    if not 0 < scale <= MAX_SCALE:  # also false for nan
        raise SettingsError("--scale", text, f"must be above 0 and at most {MAX_SCALE:,.0f}")
    return scale


def cmd_check_rules(args: argparse.Namespace) -> int:
    """Validate a rules folder as a run would when it starts; the first problem is one line naming the file and
    the key (exit 2)."""
    from consent_pipeline.core.ingest.ingest import check_file_rules

    root = parse_path(args.rules, "--rules") if args.rules else Settings.resolve().rules
    check_file_rules(load_rules(root))
    print(f"rules OK: {root}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from consent_pipeline.generate import generate

    rules = load_rules(parse_path(args.rules, "--rules") if args.rules else Settings.resolve().rules)
    as_of = parse_as_of(args.as_of, "--as-of") if args.as_of else None
    scale = _scale(args.scale)
    seed = parse_int(args.seed, "--seed", (0, 2**63 - 1))
    out = parse_path(args.out, "--out")
    if out.exists() and any(out.iterdir()) and not args.force:
        raise CliError(f"{out} is not empty (use --force to write into it anyway)")
    started = time.perf_counter()
    report = generate(out, rules, scale=scale, seed=seed, as_of=as_of)
    took = time.perf_counter() - started
    print(
        f"wrote {out}: {report.total_records:,} records in {report.files:,} files "
        f"({report.customers:,} customers) in {took:.1f}s"
    )
    return 0


# --- run ----------------------------------------------------------------------------------------


def _registry_snapshot(value: str, registries: Sequence[str]) -> str:
    """A `--confirm-registry-snapshot` value: `REGISTRY/DELIVERY`, a registry in the rules and a delivery
    folder name."""
    from consent_pipeline.core.ingest.landing import delivery_time

    registry, _, delivery = value.strip().partition("/")
    if registry not in registries or delivery_time(delivery) is None:
        raise CliError(
            f"--confirm-registry-snapshot {value!r}: expected REGISTRY/DELIVERY, e.g. us_ftc/2026-03-01T020000Z "
            f"(registries: {', '.join(registries)})"
        )
    return f"{registry}/{delivery}"


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.resolve(
        landing=args.landing,
        warehouse=args.warehouse,
        extracts=args.extracts,
        rules=args.rules,
        as_of=args.as_of,
        full_rebuild=args.full_rebuild or None,
        engine=args.engine,
        spark_master=args.spark_master,
    )
    if not settings.landing.is_dir():
        raise CliError(f"landing directory {settings.landing} does not exist")
    if settings.engine == "spark":
        from consent_pipeline.engines.spark import exchange_missing, spark_missing

        missing = spark_missing() or exchange_missing(settings.spark_exchange)
        if missing:
            raise CliError(missing)
    rules = load_rules(settings.rules)  # fail before starting anything when the rules are invalid
    from consent_pipeline.core.ingest.ingest import check_file_rules

    check_file_rules(rules)
    registries = list(rules.mapping("dnc_registries").registries)
    confirm = tuple(_registry_snapshot(v, registries) for v in args.confirm_registry_snapshot or ())
    if confirm:
        settings = dataclasses.replace(settings, confirm_registry_snapshots=confirm)
    # Everything a run needs that can be checked before a feed is read: one line and exit 2 otherwise.
    with started(settings, Warehouse.of(settings)):
        from consent_pipeline.run import run_pipeline

        outcome = run_pipeline(settings, quiet=args.quiet, dagster_home=settings.dagster_home)
    _print_out(outcome.summary())
    if not outcome.success:
        print(f"consent-pipeline: error: {outcome.error or 'a step failed'}", file=sys.stderr)
        if outcome.error_details:  # not a known fault: the full error, to report as a bug
            print(outcome.error_details, file=sys.stderr)
        return 1
    if args.strict and (outcome.failed_checks or outcome.held_back):
        return 3
    return 0


# --- explain ------------------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace) -> int:
    import json

    from consent_pipeline.core.audit.explain import explain

    path = parse_path(args.warehouse, "--warehouse") if args.warehouse else Settings.resolve().warehouse
    warehouse = Warehouse(path)
    if not warehouse.exists():
        raise CliError(f"warehouse {warehouse.path} does not exist")
    with warehouse.connect(read_only=True) as con:
        data = explain(con, args.contact_point)
    if args.json:
        print(json.dumps(data, default=str, indent=2))
    else:
        from consent_pipeline.explain_view import render

        render(data)
    return 0 if data["known"] else 1


# --- purge-snapshots ------------------------------------------------------------------------------


def cmd_purge_snapshots(args: argparse.Namespace) -> int:
    from consent_pipeline.core.audit.snapshot import UnknownRun, purge_extracts, purge_snapshots

    settings = Settings.resolve(warehouse=args.warehouse, extracts=args.extracts)
    warehouse = Warehouse(settings.warehouse)
    if not warehouse.exists():
        raise CliError(f"warehouse {warehouse.path} does not exist")
    with warehouse.lock():
        with warehouse.connect(read_only=True) as con:
            try:
                result = purge_snapshots(con, settings.snapshots, args.before, dry_run=args.dry_run)
            except UnknownRun as exc:
                raise CliError(str(exc)) from None
        extracts = purge_extracts(settings.extracts, result.runs, args.dry_run) if args.with_extracts else None
    verb, done = ("would remove", "to remove (dry run: nothing removed)") if args.dry_run else ("removed", "removed")
    for path, logged in result.removed:
        print(f"{verb} {path} (run logged {logged} UTC)")
    for path in result.unknown:
        print(f"left {path}: its run is not in this warehouse's run_log")
    if extracts is not None:
        for folder in extracts.removed:
            print(f"{verb} extract folder {folder}")
        for path in extracts.left:
            print(f"left {path}: not written by the pipeline")
    print(f"snapshots: {len(result.removed)} {done}, {len(result.kept)} kept")
    if extracts is not None:
        print(f"extract folders: {len(extracts.removed)} {done}")
    return 0


# --- main ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consent-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a realistic landing tree for all fifteen feeds")
    gen.add_argument("--out", required=True, help="landing directory to write")
    gen.add_argument(
        "--scale", default="1", help="1 = about 100,000 customers, 1,000,000 records (above 0, at most 1,000)"
    )
    gen.add_argument("--seed", default="7", help="a whole number from 0 to 2^63 - 1")
    gen.add_argument("--as-of", help="the generated data's 'now' (ISO 8601, default 2026-03-01T06:00:00Z)")
    gen.add_argument("--rules", help="rules directory (default: $CONSENT_RULES or rules/)")
    gen.add_argument("--force", action="store_true", help="write into a non-empty directory")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="materialise the whole pipeline in-process")
    run.add_argument("--landing", help="default: $CONSENT_LANDING or data/landing")
    run.add_argument("--warehouse", help="default: $CONSENT_WAREHOUSE or data/warehouse/consent.duckdb")
    run.add_argument("--extracts", help="default: $CONSENT_EXTRACTS or data/extracts")
    run.add_argument("--rules", help="default: $CONSENT_RULES or rules/")
    run.add_argument("--as-of", help="the run's 'now' (ISO 8601; default: $CONSENT_AS_OF or the current time)")
    run.add_argument(
        "--full-rebuild",
        action="store_true",
        help="recompute every golden key and permission, not only those new data can have changed "
        "(same result, slower; default: $CONSENT_FULL_REBUILD)",
    )
    run.add_argument(
        "--confirm-registry-snapshot",
        action="append",
        metavar="REGISTRY/DELIVERY",
        help="apply a held do-not-call registry snapshot (one that un-lists more than the rules' share of the "
        "snapshot in force), e.g. us_ftc/2026-03-01T020000Z; repeatable; recorded in registry_confirmations",
    )
    run.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        help="where the connectors and the decision steps run (default: $CONSENT_ENGINE or duckdb; spark needs "
        "pip install '.[spark]' and Java 17, docs/scale-out.md)",
    )
    run.add_argument(
        "--spark-master",
        metavar="URL",
        help="Spark master for --engine spark: local[*] (default, or $CONSENT_SPARK_MASTER), spark://host:7077, "
        "yarn, or a Spark Connect endpoint sc://host:15002",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    run.add_argument("--strict", action="store_true", help="exit 3 when a data check fails or input was held back")
    run.set_defaults(func=cmd_run)

    exp = sub.add_parser("explain", help="why a contact point may (not) be contacted, and the events behind it")
    exp.add_argument("contact_point", help="an email, a phone (any format), a postal address, or sha256:<hex>")
    exp.add_argument("--warehouse", help="default: $CONSENT_WAREHOUSE or data/warehouse/consent.duckdb")
    exp.add_argument("--json", action="store_true", help="machine-readable output")
    exp.set_defaults(func=cmd_explain)

    purge = sub.add_parser(
        "purge-snapshots",
        help="delete the audit snapshots of every run before a given run (e.g. the first run after an erasure)",
    )
    purge.add_argument("--before", required=True, metavar="RUN_ID", help="keep this run's snapshot and later ones")
    purge.add_argument("--warehouse", help="default: $CONSENT_WAREHOUSE or data/warehouse/consent.duckdb")
    purge.add_argument(
        "--with-extracts",
        action="store_true",
        help="also remove the extract folders those runs wrote (their manifest.json names the run)",
    )
    purge.add_argument("--extracts", help="default: $CONSENT_EXTRACTS or data/extracts")
    purge.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    purge.set_defaults(func=cmd_purge_snapshots)

    check = sub.add_parser("check-rules", help="validate a rules folder as a run would, before the night")
    check.add_argument("--rules", help="default: $CONSENT_RULES or rules/")
    check.set_defaults(func=cmd_check_rules)
    return parser


def _print_out(text: str) -> None:
    """Print to stdout. A reader that went away (`consent-pipeline run | head`) costs the rest of the output,
    not the run's exit status nor a traceback."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    # Python flushes stdout again when it exits: into the void, not into a closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


# The shell's status for a writer whose reader went away (128 + SIGPIPE).
BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # another command's output cut short by its reader (`... | head`)
        _stdout_to_devnull()
        return BROKEN_PIPE
    except (
        CliError,
        RulesError,
        SettingsError,
        WarehouseLocked,
        UnsafePath,
        CouldNotStart,
        SpillDirectoryError,
    ) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
