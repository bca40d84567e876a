"""rules/ is validated on load: a bad or missing key fails with one message naming the file and the key."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from consent_pipeline.config import load_rules
from consent_pipeline.config.rules import RulesError
from tests.conftest import ROOT

CLI = Path(sys.executable).with_name("consent-pipeline")


def edited(tmp_path: Path, file: str, change: Callable[[Any], None]) -> Path:
    """A copy of the shipped rules with one file changed."""
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    path = root / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def test_shipped_rules_load() -> None:
    rules = load_rules(ROOT / "rules")
    assert rules.brands == ["lakeside_energy", "lakeside_home", "lakeside_motors"]
    assert "marketing.offers" in rules.leaf_purposes and "marketing" not in rules.leaf_purposes


CASES: list[tuple[str, Callable[[Any], None], str, str]] = [
    ("company.yaml", lambda d: d.pop("channels"), "channels", "required key is missing"),
    (
        "company.yaml",
        lambda d: d["brands"]["lakeside_home"].update(regions="GB"),
        "brands.lakeside_home.regions",
        "list",
    ),
    ("company.yaml", lambda d: d.update(colour="blue"), "colour", "unknown key"),
    (
        "company.yaml",
        lambda d: d["brands"]["lakeside_home"].update(regions=["MARS"]),
        "brands.lakeside_home.regions.0",
        "unknown region 'MARS'",
    ),
    (
        "policies.yaml",
        lambda d: d["third_party_consent"].update(lifetime_days="half a year"),
        "third_party_consent.lifetime_days",
        "integer",
    ),
    ("policies.yaml", lambda d: d["optout_sla"].pop("AU"), "optout_sla.AU", "every region needs an SLA"),
    ("policies.yaml", lambda d: d["legacy"].pop("no_flags"), "legacy.no_flags", "required key is missing"),
    ("policies.yaml", lambda d: d["reviews"].update(every="6 months"), "reviews.every", "unknown key"),
    (
        "policies.yaml",
        lambda d: d["registry_snapshots"].update(max_unlisted_share=1.5),
        "registry_snapshots.max_unlisted_share",
        "less than or equal to 1",
    ),
    (
        "policies.yaml",
        lambda d: d["registries"]["uk_ctps"].update(required="sometimes"),
        "registries.uk_ctps.required",
        "boolean",
    ),
    (
        "mappings/dnc_registries.yaml",
        lambda d: d["registries"]["au_dncr"]["wash_answer"].update(not_listed=["Not Registered", "registered"]),
        "registries.au_dncr.wash_answer.not_listed",
        "registered is also in listed",
    ),
    (
        "mappings/mailchimp.yaml",
        lambda d: d["audiences"]["a1h0menews"].update(brand="lakeside_hom"),
        "audiences.a1h0menews.brand",
        "unknown brand 'lakeside_hom'",
    ),
    ("mappings/legacy.yaml", lambda d: d["flags"].pop("NO_MAIL"), "flags.NO_MAIL", "required key is missing"),
    (
        "mappings/legacy.yaml",
        lambda d: d["flags"]["NO_PHONE"][0].update(channel="fax"),
        "flags.NO_PHONE.0.channel",
        "unknown channel 'fax'",
    ),
    (
        "mappings/call_centre.yaml",
        lambda d: d["questions"]["email_offers"].update(purpose="marketing.spam"),
        "questions.email_offers.purpose",
        "unknown purpose 'marketing.spam'",
    ),
    ("campaigns.yaml", lambda d: next(iter(d["campaigns"].values())).update(channel="pigeon"), "channel", "pigeon"),
    # numbers out of range, in any form YAML gives them
    (
        "policies.yaml",
        lambda d: d["frequency_caps"].update(window_days=10**20),
        "frequency_caps.window_days",
        "less than or equal to 36525",
    ),
    (
        "policies.yaml",
        lambda d: d["frequency_caps"].update(window_days=1e20),
        "frequency_caps.window_days",
        "valid integer",
    ),
    (
        "policies.yaml",
        lambda d: d["frequency_caps"].update(window_days="1e20"),
        "frequency_caps.window_days",
        "valid integer",
    ),
    (
        "policies.yaml",
        lambda d: d["frequency_caps"].update(window_days=0),
        "frequency_caps.window_days",
        "greater than or equal to 1",
    ),
    (
        "policies.yaml",
        lambda d: d["frequency_caps"]["per_channel"].update(email=-3),
        "frequency_caps.per_channel.email",
        "greater than or equal to 1",
    ),
    ("policies.yaml", lambda d: d["reviews"].update(interval_months=True), "reviews.interval_months", "valid integer"),
    (
        "policies.yaml",
        lambda d: d["data_quality"].update(max_quarantined_share=float("nan")),
        "data_quality.max_quarantined_share",
        "finite number",
    ),
    ("policies.yaml", lambda d: d["optout_sla"].update(GB={}), "optout_sla.GB", "exactly one of days, business_days"),
    (
        "policies.yaml",
        lambda d: d["optout_sla"].update(US={"business_days": 10**9}),
        "optout_sla.US",
        "less than or equal to 2600",
    ),
    (
        "templates.yaml",
        lambda d: d["implied_consent"].update(purchase_months=10**6),
        "implied_consent.purchase_months",
        "less than or equal to 1200",
    ),
    # names the pipeline cannot use
    (
        "company.yaml",
        lambda d: d["default_timezones"].update(US="America/Atlantis"),
        "default_timezones.US",
        "'America/Atlantis' is not an IANA time zone",
    ),
    (
        "company.yaml",
        lambda d: d.update(fallback_timezone="Mars/Olympus"),
        "fallback_timezone",
        "not an IANA time zone",
    ),
    ("company.yaml", lambda d: d["channels"].append("../../etc/x"), "channels", "it names a file"),
    (
        "mappings/twilio_sms.yaml",
        lambda d: d["senders"].update(hello=d["senders"]["+18885550100"]),
        "senders.hello",
        "not an E.164 number",
    ),
    (
        "mappings/twilio_sms.yaml",
        lambda d: d["senders"].update({"+0123": d["senders"]["+18885550100"]}),
        "senders.+0123",
        "not an E.164 number",
    ),
]


@pytest.mark.parametrize(("file", "change", "key", "problem"), CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_a_bad_key_names_the_file_and_the_key(
    tmp_path: Path, file: str, change: Callable[[Any], None], key: str, problem: str
) -> None:
    root = edited(tmp_path, file, change)
    with pytest.raises(RulesError) as err:
        load_rules(root)
    assert err.value.file == str(root / file)
    assert key in err.value.key
    assert problem in err.value.problem


def test_unreadable_yaml_and_missing_file(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    (root / "templates.yaml").write_text("regions: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"templates\.yaml: not valid YAML"):
        load_rules(root)
    (root / "templates.yaml").unlink()
    with pytest.raises(RulesError, match=r"templates\.yaml: file is missing"):
        load_rules(root)


@pytest.mark.parametrize(
    ("file", "before", "after", "key", "lines"),
    [
        ("policies.yaml", "  window_days: 7\n", "  window_days: 7\n  window_days: 700\n", "window_days", "27 and 28"),
        (
            "mappings/twilio_sms.yaml",
            '  "+18885550111":',
            '  "+18885550100": {brand: x, purposes: []}\n  "+18885550111":',
            "+18885550100",
            "4 and 5",
        ),
        (
            "company.yaml",
            "fallback_region: OTHER\n",
            "fallback_region: OTHER\nfallback_region: US\n",
            "fallback_region",
            "40 and 41",
        ),
    ],
)
def test_a_key_given_twice_is_an_error_not_last_one_wins(
    tmp_path: Path, file: str, before: str, after: str, key: str, lines: str
) -> None:
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(before) == 1
    path.write_text(text.replace(before, after), encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(root)
    assert (err.value.file, err.value.key) == (str(path), key)
    assert err.value.problem == f"key given twice (lines {lines}); keep one"


def test_a_key_given_twice_in_a_flow_mapping_is_found_too(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    path = root / "policies.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{email: 3, sms: 2,", "{email: 3, email: 30, sms: 2,"), encoding="utf-8")
    with pytest.raises(RulesError, match=r"policies\.yaml: email: key given twice"):
        load_rules(root)


def test_cli_stops_with_one_line_naming_file_and_key(tmp_path: Path) -> None:
    root = edited(tmp_path, "mappings/mailchimp.yaml", lambda d: d["audiences"]["a1h0menews"].pop("purpose"))
    run = _run_cli(tmp_path, root)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "mappings/mailchimp.yaml: audiences.a1h0menews.purpose: required key is missing" in lines[0]
    assert not (tmp_path / "w.duckdb").exists()


def test_registry_snapshot_share_defaults_to_half(tmp_path: Path) -> None:
    root = edited(tmp_path, "policies.yaml", lambda d: d.pop("registry_snapshots"))
    assert load_rules(root).policies.registry_snapshots.max_unlisted_share == 0.5


FILE_CASES: list[tuple[Callable[[Any], None], str]] = [
    (lambda d: d["mailchimp"]["files"].pop("cleaned"), "mailchimp.files.cleaned: required key is missing"),
    (lambda d: d["mailchimp"]["files"].update(bounced=["x_*.csv"]), "mailchimp.files.bounced: unknown kind"),
    (lambda d: d.update(fax_gateway={"files": {"faxes": ["*.tif"]}}), "fax_gateway: unknown source"),
    (lambda d: d["pos"]["files"].update(receipts=[]), "pos.files: receipts: at least one pattern"),
    (lambda d: d["pos"]["files"].update(receipts=["../*.csv"]), "pos.files: receipts: '../*.csv' is not a file"),
    (lambda d: d["sendgrid"].update(envelope=["result"]), "sendgrid.envelope: unknown key"),
]


def _run_cli(tmp_path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "landing").mkdir()
    return subprocess.run(
        [
            str(CLI),
            "run",
            "--rules",
            str(root),
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--extracts",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("change", "message"), FILE_CASES, ids=[m.split(":")[0] for _, m in FILE_CASES])
def test_file_patterns_are_checked_before_anything_is_read(
    tmp_path: Path, change: Callable[[Any], None], message: str
) -> None:
    """rules/files.yaml against the connectors: every kind they read has patterns, nothing else is named."""
    root = edited(tmp_path, "files.yaml", change)
    run = _run_cli(tmp_path, root)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "files.yaml: " + message in lines[0], lines
    assert not (tmp_path / "w.duckdb").exists()


def test_cli_stops_on_an_out_of_range_number_with_one_line(tmp_path: Path) -> None:
    root = edited(tmp_path, "policies.yaml", lambda d: d["frequency_caps"].update(window_days=10**20))
    run = _run_cli(tmp_path, root)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"consent-pipeline: error: {root / 'policies.yaml'}: frequency_caps.window_days: "
        "Input should be less than or equal to 36525"
    ]
    assert not (tmp_path / "w.duckdb").exists()


def test_check_rules_says_ok_or_names_the_file_and_key(tmp_path: Path) -> None:
    ok = subprocess.run([str(CLI), "check-rules", "--rules", str(ROOT / "rules")], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout.strip()) == (0, f"rules OK: {ROOT / 'rules'}")
    bad = edited(tmp_path, "policies.yaml", lambda d: d["reviews"].update(interval_months=0))
    got = subprocess.run([str(CLI), "check-rules", "--rules", str(bad)], capture_output=True, text=True)
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr.strip().splitlines() == [
        f"consent-pipeline: error: {bad / 'policies.yaml'}: reviews.interval_months: "
        "Input should be greater than or equal to 1"
    ]


def test_check_yaml_refuses_a_key_given_twice(tmp_path: Path) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text("a: 1\nb: {c: 1}\na: 2\n", encoding="utf-8")
    got = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check-yaml"), str(ROOT / "workspace.yaml"), str(twice)],
        capture_output=True,
        text=True,
    )
    assert got.returncode == 1
    assert got.stderr.strip() == f"check-yaml: {twice}: a: key given twice (lines 1 and 3); keep one"
