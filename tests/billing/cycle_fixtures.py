"""Billing cycles and trash-only households for cycle tests, built through the real services."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from accounts.models import ServicePoint
from accounts.services import create_account
from billing.cycle_calendar import PeriodDates
from billing.cycles import add_periods, assign_accounts, create_cycle, generate_periods
from billing.models import BillingCycle, CyclePeriod, Invoice, InvoiceKind, InvoiceStatus
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from tests.billing.billing_fixtures import KEY, LOADER
from tests.conftest import account_data

CLERK = Actor.system("test clerk")


def trash_household(session, trash_plan: int, name: str, cycle: BillingCycle | None = None):
    """An account with one trash cart ($18.25 a month, demo tariff), on a cycle if given."""
    account, _code = create_account(session, LOADER, account_data(holder_name=name), code_key=KEY)
    session.add(
        ServicePoint(
            account=account,
            service_kind="trash",
            rate_plan_id=trash_plan,
            service_street="1 Oak St",
            service_city="Maple Falls",
            service_zip="54901",
            installed_on=date(2024, 1, 1),
        )
    )
    session.flush()
    if cycle is not None:
        assign_accounts(session, CLERK, cycle, [account.number])
    return account


def standard_cycle(session, code: str, frequency: str, first_start: date, until: date):
    """A cycle with a generated calendar: read on the last day, billed the next, due 21 days on."""
    cycle = create_cycle(session, CLERK, code=code, name=f"Route {code}", frequency=frequency)
    generate_periods(session, CLERK, cycle, first_start=first_start, until=until)
    return cycle


def custom_cycle(session, code: str, bounds: list[tuple[date, date]]):
    """A custom cycle with the given periods (read on the last day, billed the next)."""
    cycle = create_cycle(session, CLERK, code=code, name=f"Route {code}", frequency="custom")
    day = timedelta(days=1)
    periods = [PeriodDates(s, e, e, e + day, e + 21 * day) for s, e in bounds]
    add_periods(session, CLERK, cycle, periods)
    return cycle


def period_of(session, cycle: BillingCycle, start: date) -> CyclePeriod:
    """The cycle's period starting on a day."""
    return session.scalar(
        sa.select(CyclePeriod).where(
            CyclePeriod.cycle_id == cycle.id, CyclePeriod.period_start == start
        )
    )


def post_period(session, period: CyclePeriod, options: RunOptions | None = None) -> dict:
    """Open and post the run of a cycle's period, issued on its bill date."""
    run = open_run(
        session,
        CLERK,
        kind=InvoiceKind.UTILITY,
        cycle="",
        issue_date=period.bill_date,
        due_date=period.due_date,
        period=period,
    )
    session.commit()
    return post_run(session, run, CLERK, options or RunOptions())


def billed_days(session, account_id: int) -> list[tuple[date, date, int]]:
    """(first day, last day, total cents) of an account's live utility invoices, in order."""
    return [
        tuple(row)
        for row in session.execute(
            sa.select(Invoice.period_start, Invoice.period_end, Invoice.total_cents)
            .where(
                Invoice.account_id == account_id,
                Invoice.kind == InvoiceKind.UTILITY,
                Invoice.status != InvoiceStatus.VOID,
            )
            .order_by(Invoice.period_start)
        )
    ]
