"""Whatever a meter's reads look like, a billing run's preview finishes: every account is
either drafted or held with a reason, and none is held because its bill failed to compute."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import MeterReading, ReadingKind
from billing.models import InvoiceKind
from billing.runs import RunOptions, open_run, preview_run
from core.audit import Actor
from tests.billing.billing_fixtures import household, load_rules

JOB = Actor.job("billing_run")
#: October 2026 is previewed: its first and last day, and the days around them, are read on.
BOUNDARIES = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1)]
MONTH_ENDS = [date(2026, m, calendar.monthrange(2026, m)[1]) for m in range(3, 11)]
QUARTER_ENDS = [date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30)]
#: Long ago, during the history, on the period's boundaries and in the middle of it.
INSTALLED = [
    date(2024, 1, 1),
    date(2026, 6, 30),
    date(2026, 9, 30),
    *BOUNDARIES[1:3],
    date(2026, 10, 15),
]


@dataclass(frozen=True)
class History:
    """One meter: its dial, when it was installed, and its reads (day, register, estimated)."""

    dial_digits: int | None
    installed_on: date
    reads: list[tuple[date, int, bool]]


@st.composite
def histories(draw) -> History:
    """Installs only, monthly reads with gaps, quarterly reads, or reads on any day; registers
    that roll over, go backwards now and then, and are sometimes estimated."""
    digits = draw(st.sampled_from([None, 4, 5, 6]))
    installed = draw(st.one_of(st.just(INSTALLED[0]), st.sampled_from(INSTALLED)))
    pattern = draw(st.sampled_from(["installed only", "monthly", "quarterly", "any day"]))
    if pattern == "installed only":
        days = []
    elif pattern == "monthly":
        days = [day for day in MONTH_ENDS if draw(st.booleans())]
    elif pattern == "quarterly":
        days = QUARTER_ENDS + draw(st.lists(st.sampled_from(BOUNDARIES), max_size=2))
    else:
        any_day = st.one_of(st.sampled_from(BOUNDARIES), st.dates(installed, date(2026, 11, 15)))
        days = draw(st.lists(any_day, max_size=8))
    limit = 10**digits if digits else 10**9
    register = draw(st.integers(0, limit - 1))
    reads = []
    for day in sorted({day for day in days if day >= installed}):
        step = draw(st.one_of(st.integers(0, 12_000), st.integers(-3_000, -1)))
        register = (register + step) % limit if step >= 0 else max(register + step, 0)
        reads.append((day, register, draw(st.booleans())))
    return History(digits, installed, reads)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(histories(), min_size=1, max_size=4))
def test_any_reading_history_is_drafted_or_held_with_a_reason_and_never_stops_a_preview(
    session, meters
):
    try:
        plans = load_rules(session)
        numbers = set()
        for n, meter in enumerate(meters):
            account = household(
                session,
                plans,
                f"h{n}",
                [None] * 5,
                dial_digits=meter.dial_digits,
                installed_on=meter.installed_on,
            )
            water = account.service_points[0]
            for day, register, estimated in meter.reads:
                kind = ReadingKind.ESTIMATED if estimated else ReadingKind.ACTUAL
                session.add(
                    MeterReading(
                        service_point=water,
                        read_on=day,
                        reading=register,
                        kind=kind,
                        recorded_by="test",
                    )
                )
            numbers.add(account.number)
        session.flush()
        run = open_run(
            session,
            JOB,
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        report = preview_run(session, run, RunOptions(batch_size=2))
        held = {e["account"] for e in report["exceptions"] if e["held"]}
        assert report["items"] == len(meters)
        assert report["invoices"] + report["held"] == len(meters)
        assert len(held) == report["held"] and held <= numbers
        assert all(e["code"] and e["note"] for e in report["exceptions"])
        assert "bill_error" not in report["exception_counts"], report["exceptions"]
        assert all(total["cents"] >= 0 for total in report["totals"])
        event(", ".join(sorted(report["exception_counts"])) or "no exception")
    finally:
        # each example starts from an empty town: nothing above was committed
        session.rollback()
