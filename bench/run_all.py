"""Run every benchmark in bench/ and write bench/RESULTS.md (`make bench`).

A benchmark is a script here with a `__main__` block (not this one). Each runs
in its own process, one after another (the county seed first, then by name), with its output shown as it goes, on
a PostgreSQL database of its own named BENCH_DATABASE_PREFIX_<script>
(created when missing; PostgreSQL at BENCH_POSTGRES_URL) where it takes one,
and hands its results back through bench/_results.py. RESULTS.md gets a table
per benchmark (figure, baseline measured in the same run, ratio, target, met,
notes), the machine (cores, memory, Python, PostgreSQL, SQLite, OS, load) and
the date. A script that exits non-zero or reports nothing is named at the end
and makes the run exit 1 (RESULTS.md is still written, saying so).

    .venv/bin/python bench/run_all.py [SCRIPT ...]      # e.g. reconcile.py; all when none given

After all of them, when the county seed's template (bench/seed_county.py, 20,000 accounts) is on
the server, the county variants in COUNTY run on copies of it (their `--county` option), each its own
run and result rows, e.g. "portal bill page (county 20,000)"; the template is not seeded again.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "munibill_bench")
#: Arguments a benchmark is run with (none: its own defaults). The billing run's target names
#: 100,000 accounts.
ARGS: dict[str, list[str]] = {
    "billing_run.py": ["100000"],
    "period_balances.py": ["--accounts", "20000"],
}
#: Benchmarks run before the others, in this order.
FIRST = ("seed_county.py",)
#: The template bench/seed_county.py builds when run with no arguments (it runs first).
COUNTY_TEMPLATE = os.environ.get("BENCH_COUNTY_TEMPLATE", "munibill_county_20000")
#: The benchmarks run again on copies of the county template, with these arguments.
COUNTY: dict[str, list[str]] = {
    "portal_bill.py": [],
    "webhooks.py": [],
    "reconcile.py": [],
    "billing_run.py": [],
}


@dataclass
class Run:
    """One benchmark script's run."""

    script: str
    seconds: float = 0.0
    returncode: int = 0
    results: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> str | None:
        """Why the run counts as failed, or None."""
        if self.returncode != 0:
            return f"exited with status {self.returncode}"
        if not self.results:
            return "reported no result"
        return None


def benchmarks(names: list[str]) -> list[Path]:
    """The benchmark scripts, by name order (or the named ones)."""
    found = [
        path
        # NOTE: the county seed first: the benchmarks on a county (ledger_verify.py, account_search.py, …) copy the
        # template it builds instead of building their own.
        for path in sorted(BENCH.glob("*.py"), key=lambda p: (p.name not in FIRST, p.name))
        if path.name != Path(__file__).name
        and not path.name.startswith("_")
        and 'if __name__ == "__main__":' in path.read_text()
    ]
    if names:
        unknown = set(names) - {p.name for p in found}
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
        found = [p for p in found if p.name in names]
    return found


def database_url(script: Path) -> str:
    """The script's own PostgreSQL database, created when missing."""
    name = f"{PREFIX}_{script.stem}"
    server = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return f"{POSTGRES}/{name}"


def template_exists(name: str) -> bool:
    """Whether the server holds a database of that name."""
    server = sa.create_engine(f"{POSTGRES}/postgres")
    with server.connect() as connection:
        found = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
    server.dispose()
    return bool(found)


def run(script: Path, county: str | None = None) -> Run:
    """Run one benchmark with its own database and results file; collect what it reported.

    With `county`, its county variant on a copy of that template (`--county TEMPLATE`).
    """
    arguments = ARGS.get(script.name, [])
    if county is not None:
        arguments = ["--county", county, *COUNTY[script.name]]
    done = Run(script.name if county is None else f"{script.name} --county {county}")
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results.jsonl"
        env = {
            **os.environ,
            "BENCH_DATABASE_URL": database_url(script),
            "BENCH_RESULTS": str(results),
        }
        print(f"== {done.script}", flush=True)
        start = time.perf_counter()
        process = subprocess.run([sys.executable, str(script), *arguments], env=env, check=False)
        done.seconds = time.perf_counter() - start
        done.returncode = process.returncode
        if results.exists():
            done.results = [json.loads(line) for line in results.read_text().splitlines()]
    print(f"== {done.script}: {done.failed or 'done'} in {done.seconds:.0f} s", flush=True)
    return done


def first_line(command: list[str]) -> str:
    """The first line a command prints, or '' when it cannot run."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    memory = cpu = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    system = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.release()})"
    changed = first_line(["git", "-C", str(BENCH), "status", "--porcelain"])
    server = sa.create_engine(f"{POSTGRES}/postgres")
    with server.connect() as connection:
        postgres = connection.scalar(sa.text("SHOW server_version"))
    server.dispose()
    return {
        "cores": f"{os.cpu_count()} ({cpu})" if cpu else str(os.cpu_count()),
        "memory": memory,
        "Python": platform.python_version(),
        "PostgreSQL server": postgres,
        "SQLite": sqlite3.sqlite_version,
        "OS": system,
        "commit": first_line(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"])
        + (" with uncommitted changes" if changed else ""),
    }


def number(value: float, unit: str) -> str:
    """A figure with its unit, rounded to what matters."""
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:,.2f} {unit}"


def met_text(result: dict) -> str:
    """The verdict as the table shows it, naming the parts of the target missed."""
    if result["met"] is None:
        return "n/a (no target)"
    return "yes" if result["met"] else f"**no**: missed {'; '.join(result['missed'])}"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(runs: list[Run], facts: dict[str, str], started: datetime, ended: datetime) -> str:
    """RESULTS.md."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run_all.py); every ratio is against a baseline measured "
        "in the same run on the same machine. Do not edit by hand.",
        "",
        f"Date: {started:%Y-%m-%d %H:%M} to {ended:%Y-%m-%d %H:%M} UTC",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {name} | {cell(value)} |" for name, value in facts.items()),
        "",
        "## Summary",
        "",
        "| benchmark | figure | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        for result in r.results:
            lines.append(
                f"| {cell(result['benchmark'])} | {number(result['figure'], result['unit'])} "
                f"| {number(result['baseline'], result['baseline_unit'])} "
                f"| {result['ratio']:.1%} | {cell(result['target'])} | {met_text(result)} |"
            )
        if r.failed:
            lines.append(f"| {r.script} | failed: {r.failed} | | | | **no** |")
    for r in runs:
        lines += ["", f"## {r.script}", ""] if lines[-1] else [f"## {r.script}", ""]
        if r.failed:
            lines += [f"**Failed: {r.failed}** (after {r.seconds:.0f} s).", ""]
        for result in r.results:
            rows = {
                "figure": number(result["figure"], result["unit"]),
                "baseline": number(result["baseline"], result["baseline_unit"]),
                "ratio": f"{result['ratio']:.1%}",
                "target": result["target"],
                "met": met_text(result),
                "database": result["database"],
                **result["notes"],
                "script run time": f"{r.seconds:.0f} s",
            }
            lines += [
                f"### {result['benchmark']}",
                "",
                "| | |",
                "| --- | --- |",
                *(f"| {name} | {cell(value)} |" for name, value in rows.items()),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    """Run the benchmarks, write RESULTS.md, and fail naming any benchmark that failed."""
    scripts = benchmarks(sys.argv[1:])
    started = datetime.now(UTC)
    load = os.getloadavg()
    facts = machine()
    runs = [run(script) for script in scripts]
    if template_exists(COUNTY_TEMPLATE):
        runs += [run(s, COUNTY_TEMPLATE) for s in scripts if s.name in COUNTY]
    else:
        print(f"no county template {COUNTY_TEMPLATE}: the county variants are not run")
    ended = datetime.now(UTC)
    facts["load average (1, 5, 15 min)"] = (
        f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} at the start; "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
        + " at the end"
    )
    RESULTS.write_text(markdown(runs, facts, started, ended))
    print(f"wrote {RESULTS.relative_to(BENCH.parent)}")
    failed = [r for r in runs if r.failed]
    for r in failed:
        print(f"FAILED: bench/{r.script} {r.failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
