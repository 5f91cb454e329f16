"""For any runs over any cycles, with accounts moving between them, each account's billed
days tile time: no day billed twice, no day left out between its first and last bill."""

from datetime import date, timedelta
from itertools import count

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing.cycles import assign_accounts
from billing.models import RatePlan
from billing.runs import RunOptions
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import (
    CLERK,
    billed_days,
    custom_cycle,
    post_period,
    standard_cycle,
    trash_household,
)

START, UNTIL = date(2026, 1, 1), date(2027, 6, 30)
#: (frequency, first period start) of the standard cycles every example has.
STANDARD = [
    ("monthly", date(2026, 1, 1)),
    ("bimonthly", date(2026, 2, 1)),
    ("quarterly", date(2026, 1, 15)),
    ("semi_annual", date(2026, 3, 10)),
]
CYCLES = len(STANDARD) + 1
_examples = count()

_run = st.tuples(st.just("run"), st.integers(0, CYCLES - 1), st.integers(0, 5))
_move = st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, CYCLES - 1))
steps = st.lists(st.one_of(_run, _run, _run, _move), min_size=6, max_size=16)


def _custom_bounds(lengths: list[int]) -> list[tuple[date, date]]:
    """Back-to-back periods of the given lengths in days from START to past UNTIL."""
    bounds, start = [], START
    for length in lengths * 20:
        end = start + timedelta(days=length - 1)
        bounds.append((start, end))
        start = end + timedelta(days=1)
        if start > UNTIL:
            break
    return bounds


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lengths=st.lists(st.integers(20, 120), min_size=1, max_size=4),
    first=st.lists(st.integers(0, CYCLES - 1), min_size=3, max_size=3),
    steps=steps,
)
def test_billed_periods_tile_time_whatever_runs_are_started(session, lengths, first, steps):
    n = next(_examples)
    trash = load_rules(session)["trash"] if n == 0 else _trash_plan(session)
    cycles = [
        standard_cycle(session, f"T{n}-{i}", frequency, anchor, UNTIL)
        for i, (frequency, anchor) in enumerate(STANDARD)
    ]
    cycles.append(custom_cycle(session, f"T{n}-C", _custom_bounds(lengths)))
    accounts = [
        trash_household(session, trash, f"t{n}-{i}", cycles[c]) for i, c in enumerate(first)
    ]
    session.commit()
    for step in steps:
        if step[0] == "move":
            _, who, where = step
            assign_accounts(session, CLERK, cycles[where], [accounts[who].number])
            session.commit()
            continue
        _, which, index = step
        periods = cycles[which].periods
        post_period(session, periods[index % len(periods)], RunOptions(batch_size=2))
    for account in accounts:
        days = billed_days(session, account.id)
        event(f"bills of one account: {min(len(days), 3)}")
        event(f"partial bills: {sum(1 for d in days if d[0].day not in (1, 10, 15)) > 0}")
        for (_s, end, _c), (start, _e, _c2) in zip(days, days[1:], strict=False):
            assert start == end + timedelta(days=1), (account.number, days)


def _trash_plan(session) -> int:
    """The demo trash plan loaded by the first example."""
    return session.scalar(sa.select(RatePlan.id).where(RatePlan.code == "MF-TRASH"))
