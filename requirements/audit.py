"""Audit the locked dependency set: pip-audit first, then what pip-audit had to skip.

pip-audit reads PyPI's vulnerability feed of each pinned version
(/pypi/<name>/<version>/json). Where that answers, pip-audit's verdict is the
verdict. Where a network serves only each project's feed (/pypi/<name>/json),
pip-audit skips the package ("not found on PyPI"); this script then reads the
project's feed, whose vulnerabilities are those of the project's newest
release, and uses it for every pin that *is* that release. A pin older than the
newest release cannot be audited that way and is listed as unaudited.

Packages installed at a version the lock does not pin (a dependency added to
pyproject.toml before the lock was regenerated) are named and audited too.

Usage (as in .ci/run, with the venv's python):
    python requirements/audit.py requirements/lock.txt [--ignore-vuln ID ...]
Exit status: 0 when no vulnerability is found but those ignored (each ignored id
is explained in requirements/audit-notes.md), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

FEED = "https://pypi.org/pypi/{name}/json"
#: pip-audit's own words for a package whose per-version feed did not answer.
SKIPPED_404 = "not found on PyPI"
#: Installed but never locked: the project itself and the installer's own tools.
NOT_LOCKED = {"munibill", "pip", "setuptools", "wheel"}


def pins(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of the lock."""
    found = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[canonicalize_name(name)] = version.strip()
    return found


def unlocked(locked: dict[str, str]) -> dict[str, str]:
    """Packages installed here at a version the lock does not pin (audited all the same)."""
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    return {
        name: version
        for name, version in installed.items()
        if name not in NOT_LOCKED and locked.get(name) != version
    }


def run_pip_audit(requirements: str, ignored: list[str]) -> tuple[int, dict]:
    """pip-audit over a pinned set (no resolution: the set is complete); its JSON report."""
    with tempfile.TemporaryDirectory() as folder:
        pinned = Path(folder) / "requirements.txt"
        pinned.write_text(requirements)
        report = Path(folder) / "audit.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(pinned),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--output",
            str(report),
        ]
        for vuln_id in ignored:
            command += ["--ignore-vuln", vuln_id]
        status = subprocess.run(command, check=False).returncode  # noqa: S603 - our own tool
        return status, json.loads(report.read_text()) if report.exists() else {}


def project_feed(name: str) -> dict:
    """PyPI's JSON feed of a project."""
    with urllib.request.urlopen(FEED.format(name=name), timeout=60) as answer:  # noqa: S310 - a fixed https URL
        return json.load(answer)


def audit_skipped(skipped: list[dict], ignored: set[str]) -> tuple[list[str], list[str]]:
    """Vulnerabilities (not ignored) and unaudited pins among what pip-audit skipped."""
    found, unaudited = [], []
    for dependency in skipped:
        name, version = dependency["name"], dependency.get("version")
        if version is None:
            version = dependency["skip_reason"].rsplit("(", 1)[-1].rstrip(")")
        try:
            feed = project_feed(canonicalize_name(name))
        except urllib.error.URLError as error:
            unaudited.append(f"{name} {version}: the project feed did not answer ({error})")
            continue
        newest = feed["info"]["version"]
        if newest != version:
            unaudited.append(f"{name} {version}: not the newest release ({newest})")
            continue
        for vuln in feed.get("vulnerabilities") or []:
            if vuln.get("withdrawn"):
                continue
            ids = {vuln["id"], *vuln.get("aliases", [])}
            if ids & ignored:
                continue
            fixed = ", ".join(vuln.get("fixed_in") or []) or "no fixed release"
            found.append(f"{name} {version}: {' / '.join(sorted(ids))} (fixed in: {fixed})")
    return found, unaudited


def main(argv: list[str] | None = None) -> int:
    """Run the audit and say what it found; non-zero on any vulnerability not ignored."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path, help="the pinned set (requirements/lock.txt)")
    parser.add_argument("--ignore-vuln", action="append", default=[], metavar="ID")
    args = parser.parse_args(argv)

    locked = pins(args.lock)
    extra = unlocked(locked)
    for name, version in sorted(extra.items()):
        print(f"installed but not locked: {name} {version} (regenerate {args.lock})")
    audited_set = "".join(
        f"{name}=={version}\n" for name, version in sorted({**locked, **extra}.items())
    )
    status, report = run_pip_audit(audited_set, args.ignore_vuln)
    dependencies = report.get("dependencies", [])
    if status != 0 and not dependencies:
        print("pip-audit failed before it could audit anything", file=sys.stderr)
        return 1
    found = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in: {', '.join(v['fix_versions']) or '-'})"
        for d in dependencies
        for v in d.get("vulns", [])
    ]
    skipped = [d for d in dependencies if SKIPPED_404 in d.get("skip_reason", "")]
    more, unaudited = audit_skipped(skipped, set(args.ignore_vuln))
    found += more
    audited = len(dependencies) - len(unaudited)
    print(
        f"audited {audited} of {len(dependencies)} pinned packages "
        f"({len(dependencies) - len(skipped)} by pip-audit's per-version feed, "
        f"{len(skipped) - len(unaudited)} by their project feed)"
    )
    for line in unaudited:
        print(f"unaudited: {line}")
    for line in found:
        print(f"VULNERABLE: {line}", file=sys.stderr)
    if found or status != 0:
        print(
            "Upgrade to a fixed release, or explain the vulnerability in "
            "requirements/audit-notes.md and ignore it by id in .ci/run.",
            file=sys.stderr,
        )
        return 1
    print("no known vulnerability (but those ignored and explained in requirements/audit-notes.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
