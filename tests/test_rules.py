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
    ("company.yaml", lambda d: d["brands"]["lakeside_home"].update(regions="GB"), "brands.lakeside_home.regions",
     "list"),
    ("company.yaml", lambda d: d.update(colour="blue"), "colour", "unknown key"),
    ("company.yaml", lambda d: d["brands"]["lakeside_home"].update(regions=["MARS"]),
     "brands.lakeside_home.regions.0", "unknown region 'MARS'"),
    ("policies.yaml", lambda d: d["third_party_consent"].update(lifetime_days="half a year"),
     "third_party_consent.lifetime_days", "integer"),
    ("policies.yaml", lambda d: d["optout_sla"].pop("AU"), "optout_sla.AU", "every region needs an SLA"),
    ("policies.yaml", lambda d: d["registry_snapshots"].update(max_unlisted_share=1.5),
     "registry_snapshots.max_unlisted_share", "less than or equal to 1"),
    ("policies.yaml", lambda d: d["registries"]["uk_ctps"].update(required="sometimes"),
     "registries.uk_ctps.required", "boolean"),
    ("mappings/dnc_registries.yaml", lambda d: d["registries"]["au_dncr"]["wash_answer"].update(
        not_listed=["Not Registered", "registered"]), "registries.au_dncr.wash_answer.not_listed",
     "registered is also in listed"),
    ("mappings/mailchimp.yaml", lambda d: d["audiences"]["a1h0menews"].update(brand="lakeside_hom"),
     "audiences.a1h0menews.brand", "unknown brand 'lakeside_hom'"),
    ("mappings/legacy.yaml", lambda d: d["flags"].pop("NO_MAIL"), "flags.NO_MAIL", "required key is missing"),
    ("mappings/legacy.yaml", lambda d: d["flags"]["NO_PHONE"][0].update(channel="fax"), "flags.NO_PHONE.0.channel",
     "unknown channel 'fax'"),
    ("mappings/call_centre.yaml", lambda d: d["questions"]["email_offers"].update(purpose="marketing.spam"),
     "questions.email_offers.purpose", "unknown purpose 'marketing.spam'"),
    ("campaigns.yaml", lambda d: next(iter(d["campaigns"].values())).update(channel="pigeon"), "channel",
     "pigeon"),
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


def test_cli_stops_with_one_line_naming_file_and_key(tmp_path: Path) -> None:
    root = edited(tmp_path, "mappings/mailchimp.yaml", lambda d: d["audiences"]["a1h0menews"].pop("purpose"))
    (tmp_path / "landing").mkdir()
    run = subprocess.run(
        [str(CLI), "run", "--rules", str(root), "--landing", str(tmp_path / "landing"),
         "--warehouse", str(tmp_path / "w.duckdb"), "--extracts", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=120,
    )
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


@pytest.mark.parametrize(("change", "message"), FILE_CASES, ids=[m.split(":")[0] for _, m in FILE_CASES])
def test_file_patterns_are_checked_before_anything_is_read(
    tmp_path: Path, change: Callable[[Any], None], message: str
) -> None:
    """rules/files.yaml against the connectors: every kind they read has patterns, nothing else is named."""
    root = edited(tmp_path, "files.yaml", change)
    (tmp_path / "landing").mkdir()
    run = subprocess.run(
        [str(CLI), "run", "--rules", str(root), "--landing", str(tmp_path / "landing"),
         "--warehouse", str(tmp_path / "w.duckdb"), "--extracts", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "files.yaml: " + message in lines[0], lines
    assert not (tmp_path / "w.duckdb").exists()
