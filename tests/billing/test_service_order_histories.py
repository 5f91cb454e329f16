"""Over random sequences of starts, stops and transfers at two houses, with the monthly runs
between them: each day of each house has exactly one responsible account, and every gallon
that went through a meter is billed exactly once, across all the accounts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.locations import OrderKind, OrderStatus
from accounts.models import MeterReading
from accounts.responsibility import current, gaps_and_overlaps, history
from billing.models import Invoice, InvoiceLine
from billing.service_orders import OrderError, confirm, new_order
from core.extensions import db
from ledger.balances import trial_balance
from tests.billing.order_fixtures import CLERK, SETTINGS, two_houses
from tests.conftest import reset_database

START = date(2026, 10, 31)
MONTHS = ["2026-11", "2026-12", "2027-01", "2027-02"]
#: Gallons a day through each house's meter.
FLOW = (100, 170)

ORDERS = st.lists(
    st.tuples(
        st.sampled_from(["stop", "start", "transfer"]),
        st.integers(0, 1),  # the house
        st.integers(1, 28),  # the day of the month
    ),
    max_size=3,
)


def _register(house: int, day: date, base: int) -> int:
    """What the house's meter shows at the end of the day."""
    return base + FLOW[house] * (day - START).days


def _read(session, point, house: int, day: date, base: int) -> None:
    """The meter read on the day, unless it was read already."""
    exists = session.scalar(
        sa.select(MeterReading.id).where(
            MeterReading.service_point_id == point.id, MeterReading.read_on == day
        )
    )
    if exists is None:
        session.add(
            MeterReading(
                service_point_id=point.id,
                meter_installed_on=point.installed_on,
                read_on=day,
                reading=_register(house, day, base),
                recorded_by="test",
            )
        )
        session.flush()


def _order(session, houses, bases, kind: str, n: int, day: date) -> None:
    """One order as a clerk would enter it, with the meters read as it needs."""
    house, other = houses[n], houses[1 - n]
    now = current(session, house.location.id)
    occupied = now.account_id != house.location.owner_account_id
    fields = {"location_id": house.location.id, "effective_on": day}
    if kind == "start":
        _read(session, house.water, n, day - timedelta(days=1), bases[n])
        fields |= {"holder_name": f"Resident {day}", "kind": OrderKind.START}
    else:
        _read(session, house.water, n, day, bases[n])
        fields |= {"account_id": now.account_id if occupied else None, "kind": OrderKind(kind)}
        if kind == "transfer":
            _read(session, other.water, 1 - n, day - timedelta(days=1), bases[1 - n])
            fields |= {"new_location_id": other.location.id, "holder_name": "Mover"}
    order = new_order(session, CLERK, status=OrderStatus.CONFIRMED, **fields)
    confirm(session, CLERK, order, SETTINGS, day)


def _run_month(session, houses, bases, cycle: str) -> None:
    """Read both meters on the month's last day and post the month's run."""
    from tests.billing.order_fixtures import run_cycle

    year, month = (int(part) for part in cycle.split("-"))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    for n, house in enumerate(houses):
        _read(session, house.water, n, last, bases[n])
    run_cycle(session, cycle)


def _gallons_billed(session, point_id: int) -> Decimal:
    """The water usage billed on the meter, on every account, in gallons."""
    total = session.scalar(
        sa.select(sa.func.sum(InvoiceLine.quantity))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.service_point_id == point_id, InvoiceLine.source.like("%:usage"))
    )
    return (total or Decimal(0)) * 1000


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(ORDERS, min_size=len(MONTHS), max_size=len(MONTHS)))
def test_every_day_has_one_responsible_account_and_every_gallon_is_billed_once(
    app, reference_rows, months
):
    with app.app_context():
        reset_database(db.engine, reference_rows)  # each history starts from an empty town
        session = db.session
        houses = two_houses(session)
        bases = (18400, 500)
        for cycle, orders in zip(MONTHS, months, strict=True):
            year, month = (int(part) for part in cycle.split("-"))
            for kind, n, day in sorted(orders, key=lambda o: o[2]):
                step = session.begin_nested()
                try:
                    _order(session, houses, bases, kind, n, date(year, month, day))
                    step.commit()
                except OrderError:
                    step.rollback()  # refused as a clerk would be; nothing changed
            _run_month(session, houses, bases, cycle)

        last = date(2027, 2, 28)
        for n, house in enumerate(houses):
            assert gaps_and_overlaps(history(session, house.location.id)) == []
            assert history(session, house.location.id)[0].starts_on == date(2024, 1, 1)
            used = _register(n, last, bases[n]) - _register(n, START, bases[n])
            assert _gallons_billed(session, house.water.id) - _october(session, house) == used
        books = trial_balance(session)
        assert books.total_debit_cents == books.total_credit_cents


def _october(session, house) -> Decimal:
    """The gallons billed for October (before the orders began)."""
    total = session.scalar(
        sa.select(sa.func.sum(InvoiceLine.quantity))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            InvoiceLine.service_point_id == house.water.id,
            InvoiceLine.source.like("%:usage"),
            Invoice.period_end == date(2026, 10, 31),
        )
    )
    return (total or Decimal(0)) * 1000
