"""Print batch speed and memory, against plain-text pages drawn with ReportLab's canvas.

Seeds N accounts (one water meter with 14 monthly reads, so every bill has its
13-month chart, and sewer on it), posts the October cycle, then:
- makes the cycle's print batch with `munibill notices batch` in a child
  process: read from the database, rendered (chart, Code 128, QR), stored,
  recorded and merged into one PDF with its manifest — bills/s on one core
  and the peak RSS of that process, once for N/4 bills and once for N, so a
  memory that grows with the batch shows;
- draws the same pages as plain text (every line of text of every page, at
  its place, no graphics) into one PDF with reportlab.pdfgen.canvas
  (pages/s), the baseline.
Prints both and the ratio. A benchmark, not a test.

    .venv/bin/python bench/notice_batch.py [BILLS]
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

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


def batch(url: str, folder: Path) -> tuple[float, int, int]:
    """`munibill notices batch` in a child process: (seconds, peak RSS in KiB, pages)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "b" * 40,
        "MUNIBILL_INSTANCE_PATH": str(folder),
    }
    # NOTE: VmHWM, not ru_maxrss: the latter keeps the parent's size from before the exec.
    script = (
        "import datetime, os, sys, time\n"
        "from core import create_app\n"
        "from core.audit import Actor\n"
        "from core.extensions import db\n"
        "from notices.print_batches import print_batch\n"
        "app = create_app()\n"
        "os.sync()  # what preparing the data left to write is not charged to the batch\n"
        "with app.app_context():\n"
        "    start = time.perf_counter()\n"
        "    made = print_batch(db.session, app.config, Actor.system('bench'), cycle='2026-10', on=datetime.date(2026, 11, 2))\n"
        "    seconds = time.perf_counter() - start\n"
        "    peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "    print(seconds, peak, made.pages, made.printed)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    seconds, peak, pages, printed_count = float(out[0]), int(out[1]), int(out[2]), int(out[3])
    assert printed_count > 0
    return seconds, peak, pages


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
    """Prepare twice (N/4 and N bills), batch each, draw the baseline, print the figures."""
    bills = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    figures = {}
    for size in (max(bills // 4, 1), bills):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            os.environ["MUNIBILL_INSTANCE_PATH"] = name
            url = prepare(folder, size)
            seconds, peak, pages = batch(url, folder)
            base_seconds, base_pages = baseline(url) if size == bills else (0.0, 0)
            figures[size] = (seconds, peak, pages, base_seconds, base_pages)
    small, large = figures[max(bills // 4, 1)], figures[bills]
    seconds, peak, pages, base_seconds, base_pages = large
    rate, base_rate = bills / seconds, base_pages / base_seconds
    print(
        f"print batch on sqlite: {bills:,} utility bills ({pages:,} pages with duplex padding), one core"
    )
    print(
        f"  munibill notices batch: {seconds:6.1f} s  {rate:6.0f} bills/s  "
        f"peak RSS {peak / 1024:,.0f} MB  (with {max(bills // 4, 1):,} bills: {small[1] / 1024:,.0f} MB)"
    )
    print(f"  baseline plain-text canvas: {base_seconds:6.1f} s  {base_rate:6.0f} pages/s")
    print(
        f"  ratio: {rate / base_rate:.1%}  (target >= 35%, >= 120 bills/s per core, "
        "< 300 MB not growing with the batch)"
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
            "peak < 300 MB": peak < 300 * 1024,
            "not growing (within 25% of the quarter batch's)": peak <= small[1] * 1.25,
        },
        database="sqlite",
        notes={
            "size": f"{bills:,} bills, {pages:,} pages",
            "peak RSS": f"{peak / 1024:,.0f} MB ({small[1] / 1024:,.0f} MB with {max(bills // 4, 1):,} bills)",
        },
    )


if __name__ == "__main__":
    main()
