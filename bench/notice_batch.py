"""Print batch speed and memory, on one worker and on two, against plain-text pages drawn with
ReportLab's canvas.

Seeds N accounts (one water meter with 14 monthly reads, so every bill has its
13-month chart, and sewer on it), posts the October cycle, then, on two copies
of that database:
- makes the cycle's print batch with `munibill notices batch` in a child
  process with PRINT_WORKERS=1 and, on the other copy, with PRINT_WORKERS=2:
  read from the database, rendered (chart, Code 128, QR), stored, recorded and
  merged into one PDF with its manifest — bills/s and the peak RSS of the
  batch's process and of its largest worker, once for N/4 bills and once for
  N, so a memory that grows with the batch shows; the two batches' manifests
  and merged PDFs are compared (the same bytes, or else the same text page by
  page);
- draws the same pages as plain text (every line of text of every page, at
  its place, no graphics) into one PDF with reportlab.pdfgen.canvas
  (pages/s), the baseline of the one-worker figure; the one-worker batch is
  the baseline of the two-worker one (target >= 1.7x).
Prints the figures and the ratios. A benchmark, not a test. 10,000 bills by
default (a few minutes); the full size the target names is 100,000.

    .venv/bin/python bench/notice_batch.py [BILLS]
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pypdf
import sqlalchemy as sa
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _results  # noqa: E402
import billing_run  # noqa: E402

from accounts.models import MeterReading  # noqa: E402
from billing.models import Invoice
from core import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from notices import (
    content,  # noqa: E402
    layout,  # noqa: E402
    pdf_canvas,  # noqa: E402
)


def prepare(folder: Path, bills: int) -> str:
    """A database with `bills` October utility bills, each with 14 months of reads; its URL."""
    url = f"sqlite:///{folder / 'bench.db'}"
    app, plans = billing_run.fresh_app(url)
    billing_run.seed(app, plans, bills)
    with app.app_context(), db.engine.begin() as connection:
        months = [date(2025, 9, 30)] + [
            date(2025 + (m // 12), m % 12 + 1, 1) - date.resolution for m in range(10, 21)
        ]
        connection.execute(
            sa.insert(MeterReading.__table__),
            [
                {
                    "service_point_id": 2 * i - 1,
                    "meter_installed_on": date(2024, 1, 1),
                    "read_on": day,
                    "reading": 1_000 + n * 700 + (i * 37 + n * 113) % 400,
                    "kind": "actual",
                    "recorded_by": "bench",
                }
                for i in range(1, bills + 1)
                for n, day in enumerate(months)
            ],
        )
        db.engine.dispose()
    billing_run.run_billing(url, str(folder))
    return url


def batch(url: str, folder: Path, workers: int) -> Batch:
    """`munibill notices batch` in a child process with PRINT_WORKERS=workers."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "b" * 40,
        "MUNIBILL_INSTANCE_PATH": str(folder),
        "PRINT_WORKERS": str(workers),
    }
    # NOTE: VmHWM, not ru_maxrss: the latter keeps the parent's size from before the exec.
    # The workers' VmHWM is read from /proc while they run (they are gone by the end).
    script = (
        "import datetime, os, resource, sys, threading, time\n"
        "from core import create_app\n"
        "from core.audit import Actor\n"
        "from core.extensions import db\n"
        "from notices.print_batches import print_batch\n"
        "def hwm(pid):\n"
        "    try:\n"
        "        with open(f'/proc/{pid}/status') as status:\n"
        "            return next(int(l.split()[1]) for l in status if l.startswith('VmHWM'))\n"
        "    except (OSError, StopIteration, ValueError):\n"
        "        return 0\n"
        "workers, done = {}, threading.Event()\n"
        "def watch():\n"
        "    me = os.getpid()\n"
        "    mine = open(f'/proc/{me}/cmdline', 'rb').read()\n"
        "    while not done.wait(0.1):\n"
        "        try:\n"
        "            children = open(f'/proc/{me}/task/{me}/children').read().split()\n"
        "        except OSError:\n"
        "            children = []\n"
        "        for child in children:\n"
        "            try:\n"
        "                line = open(f'/proc/{child}/cmdline', 'rb').read()\n"
        "                worker = line == mine or b'spawn_main' in line  # forked or spawned\n"
        "            except OSError:\n"
        "                worker = False\n"
        "            if worker:\n"
        "                workers[child] = max(workers.get(child, 0), hwm(child))\n"
        "threading.Thread(target=watch, daemon=True).start()\n"
        "app = create_app()\n"
        "os.sync()  # what preparing the data left to write is not charged to the batch\n"
        "with app.app_context():\n"
        "    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)\n"
        "    made = print_batch(db.session, app.config, Actor.system('bench'), cycle='2026-10', on=datetime.date(2026, 11, 2))\n"
        "    seconds = time.perf_counter() - start\n"
        "    done.set()\n"
        "    root = app.config['NOTICES_DIR'] + '/'\n"
        "    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "    mine = me.ru_utime + me.ru_stime - before.ru_utime - before.ru_stime\n"
        "    cpu = f'{mine:.3f}', f'{kids.ru_utime + kids.ru_stime:.3f}'\n"
        "    print(seconds, hwm(os.getpid()), max(workers.values(), default=0), len(workers), made.pages, made.printed, root + made.pdf_path, root + made.manifest_path, *cpu)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    made = Batch(
        float(out[0]),
        int(out[1]),
        int(out[2]),
        int(out[3]),
        int(out[4]),
        int(out[5]),
        Path(out[6]),
        Path(out[7]),
        float(out[8]),
        float(out[9]),
    )
    assert made.printed > 0
    return made


@dataclass(frozen=True)
class Batch:
    """One batch's run: seconds, peak RSS (KiB) of its process and of its largest worker,
    the workers seen, pages, bills printed, the merged PDF and manifest, and the CPU seconds
    of its process and of its workers."""

    seconds: float
    peak: int
    worker_peak: int
    workers: int
    pages: int
    printed: int
    pdf: Path
    manifest: Path
    cpu: float
    workers_cpu: float


def _spin(rounds: int) -> float:
    """Seconds of a loop that only uses the CPU."""
    start = time.perf_counter()
    total = 0
    for i in range(rounds):
        total += i
    return time.perf_counter() - start


def cores_free(rounds: int = 10_000_000) -> float:
    """How much faster two processes spinning at once get through two spins than one process
    does alone (2.0 on two idle cores): what the machine gave two processes at that moment."""
    alone = _spin(rounds) * 2
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        start = time.perf_counter()
        pool.map(_spin, [rounds, rounds])
        together = time.perf_counter() - start
    return alone / together


def same_print(one: Batch, other: Batch) -> bool:
    """Whether two batches' manifests are the same and their merged PDFs say the same, page by
    page (the same bytes; else the same text on each page)."""
    if one.manifest.read_bytes() != other.manifest.read_bytes():
        return False
    if one.pdf.read_bytes() == other.pdf.read_bytes():
        return True
    first, second = pypdf.PdfReader(one.pdf), pypdf.PdfReader(other.pdf)
    return len(first.pages) == len(second.pages) and all(
        a.extract_text() == b.extract_text() for a, b in zip(first.pages, second.pages, strict=True)
    )


def baseline(url: str) -> tuple[float, int]:
    """The same pages as plain text: every line of text the bills show, drawn with the canvas.

    The bills are read and laid out first (not timed); then each page's text
    runs are drawn with drawString at their places, without any graphics (no
    rules, boxes, chart, barcode or QR), one PDF for all; (seconds, pages).
    """
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "ENV": {"DATABASE_URL": url, "SECRET_KEY": "b" * 40}}
    )
    with app.app_context():
        pages = [
            [op[1] for op in page.ops if op[0] is pdf_canvas._line_of_text]
            for invoice in db.session.scalars(sa.select(Invoice).order_by(Invoice.id))
            for page in layout.Layout(content.bill(db.session, app.config, invoice)).lay_out()
        ]
        db.engine.dispose()
    os.sync()
    start = time.perf_counter()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=letter, invariant=1, pageCompression=1)
    for texts in pages:
        for x, y, text, font, size, _color in texts:
            pdf.setFont(font, size)
            pdf.drawString(x, y, text)
        pdf.showPage()
    pdf.save()
    return time.perf_counter() - start, len(pages)


def main() -> None:
    """Prepare twice (N/4 and N bills), batch each with one worker and with two on copies of
    the same data, draw the baseline, print the figures."""
    bills = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    quarter = max(bills // 4, 1)
    figures: dict[tuple[int, int], Batch] = {}
    same: dict[int, bool] = {}
    for size in (quarter, bills):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            os.environ["MUNIBILL_INSTANCE_PATH"] = name
            url = prepare(folder, size)
            free = [cores_free()] if size == bills else []
            for workers in (1, 2):
                own = folder / f"workers-{workers}"
                own.mkdir()
                for suffix in ("", "-wal", "-shm"):
                    if (folder / f"bench.db{suffix}").exists():
                        shutil.copyfile(folder / f"bench.db{suffix}", own / f"bench.db{suffix}")
                figures[size, workers] = batch(f"sqlite:///{own / 'bench.db'}", own, workers)
            free += [cores_free()] if size == bills else []
            same[size] = same_print(figures[size, 1], figures[size, 2])
            base_seconds, base_pages = baseline(url) if size == bills else (0.0, 0)
    one, two = figures[bills, 1], figures[bills, 2]
    small_one, small_two = figures[quarter, 1], figures[quarter, 2]
    rate, two_rate = bills / one.seconds, bills / two.seconds
    base_rate = base_pages / base_seconds
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"print batch on sqlite: {bills:,} utility bills ({one.pages:,} pages with duplex "
        f"padding); load average {load} on {os.cpu_count()} cores"
    )
    print(
        f"  one worker:  {one.seconds:6.1f} s  {rate:6.0f} bills/s  peak RSS "
        f"{one.peak / 1024:,.0f} MB  (with {quarter:,} bills: {small_one.peak / 1024:,.0f} MB)"
    )
    print(
        f"  two workers: {two.seconds:6.1f} s  {two_rate:6.0f} bills/s  peak RSS "
        f"{two.peak / 1024:,.0f} MB, each worker <= {two.worker_peak / 1024:,.0f} MB  "
        f"(with {quarter:,} bills: {small_two.peak / 1024:,.0f} MB, "
        f"{small_two.worker_peak / 1024:,.0f} MB)"
    )
    print(
        f"  same manifest and merged pages with one and two workers: {same[bills]} "
        f"({quarter:,} bills: {same[quarter]})"
    )
    print(f"  baseline plain-text canvas: {base_seconds:6.1f} s  {base_rate:6.0f} pages/s")
    print(
        f"  ratio: {rate / base_rate:.1%}  (target >= 35%, >= 120 bills/s per core, "
        "< 300 MB not growing with the batch)"
    )
    print(f"  two workers against one: {two_rate / rate:.2f}x  (target >= 1.7x)")
    spread = f"{min(free):.2f}x-{max(free):.2f}x"
    # CPU seconds do not depend on how busy the machine is: the two-worker batch could go as
    # fast as its busiest process allows (its own, or each of its two workers).
    total = one.cpu + one.workers_cpu
    longest = max(two.cpu, two.workers_cpu / 2)
    print(
        f"  CPU: one worker {total:.1f} s; two workers {two.cpu:.1f} s in the batch's process "
        f"+ {two.workers_cpu:.1f} s in the workers; on two free cores at most "
        f"{total / longest:.2f}x (an estimate from CPU time, not a measurement)"
    )
    print(
        f"  what the machine gave two processes spinning at once, before and after: {spread} "
        "(2.0x on two idle cores)"
    )
    _results.report(
        "notice print batch",
        figure=rate,
        unit="bills/s",
        baseline=base_rate,
        baseline_unit="pages/s",
        target=">= 35% of the baseline's pages/s; >= 120 bills/s on one core; "
        "< 300 MB, not growing with the batch",
        checks={
            "ratio >= 35%": rate / base_rate >= 0.35,
            ">= 120 bills/s": rate >= 120,
            "peak < 300 MB": one.peak < 300 * 1024,
            "not growing (within 25% of the quarter batch's)": one.peak <= small_one.peak * 1.25,
        },
        database="sqlite",
        notes={
            "size": f"{bills:,} bills, {one.pages:,} pages",
            "workers": "1 (PRINT_WORKERS=1)",
            "peak RSS": f"{one.peak / 1024:,.0f} MB ({small_one.peak / 1024:,.0f} MB with "
            f"{quarter:,} bills)",
        },
    )
    grows = max(two.peak / small_two.peak, two.worker_peak / max(small_two.worker_peak, 1))
    _results.report(
        "notice print batch on two workers",
        figure=two_rate,
        unit="bills/s",
        baseline=rate,
        target=">= 1.7x the one-worker batch's bills/s; the same manifest and merged pages; "
        "memory not growing with the batch",
        checks={
            ">= 1.7x": two_rate >= 1.7 * rate,
            "same manifest and pages": same[bills] and same[quarter],
            "two workers ran": two.workers == 2,
            "not growing (within 25% of the quarter batch's)": grows <= 1.25,
        },
        database="sqlite",
        notes={
            "size": f"{bills:,} bills, {two.pages:,} pages (full size: 100,000 bills)",
            "peak RSS": f"batch {two.peak / 1024:,.0f} MB, largest worker "
            f"{two.worker_peak / 1024:,.0f} MB ({small_two.peak / 1024:,.0f} MB and "
            f"{small_two.worker_peak / 1024:,.0f} MB with {quarter:,} bills)",
            "load average": f"{load} on {os.cpu_count()} cores",
            "two spinning processes against one, before and after": f"{spread} (2.0x when "
            "the cores are free)",
            "CPU seconds": f"one worker {total:.1f} s; two workers {two.cpu:.1f} s (batch) + "
            f"{two.workers_cpu:.1f} s (workers): at most {total / longest:.2f}x on two free "
            "cores, estimated",
        },
    )


if __name__ == "__main__":
    main()
