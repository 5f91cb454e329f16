"""The dependency audit of CI fails on a known vulnerability that is not explained, and
passes once its id is ignored; the feeds are stood in for, so no network is needed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "requirements" / "audit.py"
LOCK = SCRIPT.parent / "lock.txt"


@pytest.fixture
def audit():
    """requirements/audit.py as a module."""
    spec = importlib.util.spec_from_file_location("munibill_audit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def skipped(name: str, version: str) -> dict:
    """A package pip-audit skipped because PyPI's per-version feed did not answer."""
    reason = f"Dependency not found on PyPI and could not be audited: {name} ({version})"
    return {"name": name, "skip_reason": reason}


def feeds(newest: dict[str, str], vulnerable: set[str]):
    """Project feeds: each package's newest release, with one vulnerability where named."""

    def feed(name: str) -> dict:
        vulns = []
        if name in vulnerable:
            vulns = [{"id": "PYSEC-0000-1", "aliases": ["GHSA-aaaa-bbbb-cccc"], "fixed_in": ["9"]}]
        return {"info": {"version": newest[name]}, "vulnerabilities": vulns}

    return feed


def run(audit, monkeypatch, report: dict, feed, ignored=()) -> int:
    """The audit's exit status over the locked set, with pip-audit's answer given."""
    monkeypatch.setattr(audit, "run_pip_audit", lambda requirements, ignore: (0, report))
    monkeypatch.setattr(audit, "project_feed", feed)
    argv = [str(LOCK)]
    for vuln_id in ignored:
        argv += ["--ignore-vuln", vuln_id]
    return audit.main(argv)


def test_a_vulnerability_in_a_project_feed_fails_the_audit_until_it_is_explained(
    audit, monkeypatch, capsys
):
    report = {"dependencies": [skipped("flask", "3.1.3"), skipped("jinja2", "3.1.6")]}
    feed = feeds({"flask": "3.1.3", "jinja2": "3.1.6"}, vulnerable={"jinja2"})

    assert run(audit, monkeypatch, report, feed) == 1
    assert "VULNERABLE: jinja2 3.1.6: GHSA-aaaa-bbbb-cccc / PYSEC-0000-1" in capsys.readouterr().err
    assert run(audit, monkeypatch, report, feed, ignored=["GHSA-aaaa-bbbb-cccc"]) == 0
    assert run(audit, monkeypatch, report, feeds({"flask": "3.1.3", "jinja2": "3.1.6"}, set())) == 0


def test_a_vulnerability_pip_audit_reports_fails_the_audit(audit, monkeypatch):
    vuln = {"id": "PYSEC-0000-2", "fix_versions": ["3.1.4"], "aliases": []}
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": [vuln]}]}
    assert run(audit, monkeypatch, report, feeds({}, set())) == 1


def test_a_pin_older_than_the_newest_release_is_named_unaudited(audit, monkeypatch, capsys):
    report = {"dependencies": [skipped("deprecated", "1.3.1")]}
    assert run(audit, monkeypatch, report, feeds({"deprecated": "3.0.1"}, {"deprecated"})) == 0
    assert "unaudited: deprecated 1.3.1: not the newest release (3.0.1)" in capsys.readouterr().out


def test_the_lock_pins_every_package_exactly(audit):
    pins = audit.pins(LOCK)
    assert {"flask", "stripe", "sqlalchemy", "pip-audit"} <= set(pins)
    lines = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in lines) and len(lines) == len(pins)
