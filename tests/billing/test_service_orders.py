"""Starting, stopping and transferring service: final bills, responsibility, finaled accounts."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from accounts.locations import OrderKind, OrderStatus, ServiceLocation
from accounts.models import AccountStatus, MeterReading, ReadingKind
from accounts.responsibility import gaps_and_overlaps, history, responsible_on
from billing.deposits import hold_deposit
from billing.models import DepositStatus, Invoice, InvoiceKind, InvoiceStatus
from billing.position import account_position
from billing.service_orders import OrderError, confirm, new_order, refuse
from core.models import AuditEvent
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance, trial_balance
from ledger.balances import account_position as ledger_position
from tests.billing.order_fixtures import CLERK, SETTINGS, read, rented_house, run_cycle

STOP_DAY = date(2026, 11, 15)
FORWARD = {
    "forward_street": "88 Harbor Rd",
    "forward_city": "Duluth",
    "forward_state": "MN",
    "forward_zip": "55802",
}


def _stop(session, house, on=STOP_DAY, reading: int | None = 20000, **fields):
    """A clerk's stop of the tenant's service, carried out on the day after."""
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.STOP,
        location_id=house.location.id,
        account_id=house.tenant.id,
        effective_on=on,
        reading=reading,
        **FORWARD,
        **fields,
    )
    return confirm(session, CLERK, order, SETTINGS, date(2026, 11, 16))


def _lines(invoice: Invoice) -> list[tuple[str, int]]:
    return [(line.description, line.amount_cents) for line in invoice.lines]


def test_a_stop_bills_the_days_after_the_last_bill_through_the_stop_at_once(session):
    house = rented_house(session)
    order = _stop(session, house)

    final = session.get(Invoice, order.final_invoice_id)
    assert final.is_final
    assert (final.period_start, final.period_end) == (date(2026, 11, 1), STOP_DAY)
    # 1,600 gallons from the October 31 read (18,400) to the final read (20,000); the month's
    # fixed charges for 15 of November's 30 days.
    assert final.total_cents == 600 + 800 + 300 + 480 + 900
    assert sorted(cents for _text, cents in _lines(final)) == [300, 480, 600, 800, 900]
    final_read = session.scalar(sa.select(MeterReading).where(MeterReading.read_on == STOP_DAY))
    assert (final_read.reading, final_read.kind) == (20000, ReadingKind.FINAL)
    assert not order.reading_estimated


def test_a_stopped_account_is_finaled_and_the_owner_answers_for_the_vacancy(session):
    house = rented_house(session)
    _stop(session, house)

    assert house.tenant.status == AccountStatus.CLOSED
    assert responsible_on(session, house.location.id, STOP_DAY) == house.tenant.id
    assert responsible_on(session, house.location.id, date(2026, 11, 16)) == house.landlord.id
    assert gaps_and_overlaps(history(session, house.location.id)) == []
    assert house.water.account_id == house.landlord.id
    assert house.location.occupant_name is None


def test_the_next_run_skips_the_finaled_account_and_bills_the_owner_from_the_day_after(session):
    house = rented_house(session)
    _stop(session, house)
    read(session, house.water, date(2026, 11, 30), 20500)

    report = run_cycle(session, "2026-11")

    assert report["invoices"] == 1
    bills = session.scalars(sa.select(Invoice).where(Invoice.period_end == date(2026, 11, 30)))
    (vacancy,) = bills
    assert vacancy.account_id == house.landlord.id
    # 500 gallons after the final read; 15 of 30 days of the fixed charges.
    assert vacancy.total_cents == 600 + 250 + 300 + 150 + 900


def test_a_stop_without_a_reading_is_estimated_and_marked(session):
    house = rented_house(session)
    order = _stop(session, house, reading=None)

    final = session.get(Invoice, order.final_invoice_id)
    assert order.reading_estimated
    estimate = session.scalar(sa.select(MeterReading).where(MeterReading.read_on == STOP_DAY))
    assert estimate.kind == ReadingKind.ESTIMATED
    # Average of the last three months (4,000, 4,000, 5,400 gallons) = 4,467.
    assert estimate.reading == 18400 + 4467
    assert any("estimated" in text.lower() for text, _cents in _lines(final))


def test_the_ledger_stays_balanced_and_the_position_shows_the_final_bill(session):
    house = rented_house(session)
    order = _stop(session, house)
    final = session.get(Invoice, order.final_invoice_id)

    books = trial_balance(session, date(2026, 11, 16))
    assert books.total_debit_cents == books.total_credit_cents
    position = account_position(session, house.tenant.id, date(2026, 11, 16))
    october = session.scalar(
        sa.select(Invoice).where(
            Invoice.account_id == house.tenant.id, Invoice.period_end == date(2026, 10, 31)
        )
    )
    assert position.owed_cents() == october.total_cents + final.total_cents
    assert ledger_position(session, house.tenant.id)[0] == position.owed_cents()


def test_a_stop_within_the_period_already_billed_is_refused_naming_it(session):
    house = rented_house(session)
    with pytest.raises(OrderError, match=r"effective_on: .*2026-10-20.*through 2026-10-31"):
        _stop(session, house, on=date(2026, 10, 20))
    assert house.tenant.status == AccountStatus.ACTIVE


def test_two_starts_at_one_location_on_one_day_are_refused_naming_the_place(session):
    house = rented_house(session)
    _stop(session, house)
    read(session, house.water, date(2026, 11, 30), 20500)

    def start(name):
        order = new_order(
            session,
            CLERK,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.START,
            location_id=house.location.id,
            effective_on=date(2026, 12, 1),
            holder_name=name,
        )
        return confirm(session, CLERK, order, SETTINGS, date(2026, 12, 1))

    first = start("Ana Ruiz")
    with pytest.raises(OrderError, match=r"location 1 Oak St, Maple Falls 54901: .*2026-12-01"):
        start("Ben Ruiz")
    assert responsible_on(session, house.location.id, date(2026, 12, 1)) == first.new_account_id


def test_a_start_ends_the_vacancy_with_the_owners_last_days_billed(session):
    house = rented_house(session)
    _stop(session, house)
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.START,
        location_id=house.location.id,
        effective_on=date(2026, 11, 21),
        holder_name="Ana Ruiz",
        reading=20300,
    )
    confirm(session, CLERK, order, SETTINGS, date(2026, 11, 21))

    owner_bill = session.scalar(sa.select(Invoice).where(Invoice.account_id == house.landlord.id))
    assert (owner_bill.period_start, owner_bill.period_end) == (
        date(2026, 11, 16),
        date(2026, 11, 20),
    )
    assert not owner_bill.is_final
    # 300 gallons, 5 of 30 days: 2.00 + 1.50 water, 1.00 + 0.90 sewer, 3.00 trash.
    assert owner_bill.total_cents == 200 + 150 + 100 + 90 + 300
    assert house.location.occupant_name == "Ana Ruiz"
    assert gaps_and_overlaps(history(session, house.location.id)) == []


def test_a_residents_request_waits_for_a_clerk_and_a_refusal_keeps_the_reason(session):
    house = rented_house(session)
    resident = CLERK.__class__("resident", "7", "resident:olson", "127.0.0.1")
    order = new_order(
        session,
        resident,
        status=OrderStatus.REQUESTED,
        kind=OrderKind.STOP,
        location_id=house.location.id,
        account_id=house.tenant.id,
        effective_on=STOP_DAY,
        **FORWARD,
    )
    assert order.final_invoice_id is None and house.tenant.status == AccountStatus.ACTIVE

    refuse(session, CLERK, order, "Lease runs to December; tenant to confirm date")

    assert order.status == OrderStatus.REFUSED
    actions = session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["service_order.requested", "service_order.refused"]
    with pytest.raises(OrderError, match="already refused"):
        confirm(session, CLERK, order, SETTINGS, date(2026, 11, 16))


def test_an_order_for_a_later_day_waits_for_that_day(session):
    house = rented_house(session)
    with pytest.raises(OrderError, match="effective_on: the order is for 2026-11-15"):
        order = new_order(
            session,
            CLERK,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.STOP,
            location_id=house.location.id,
            account_id=house.tenant.id,
            effective_on=STOP_DAY,
        )
        confirm(session, CLERK, order, SETTINGS, date(2026, 11, 10))


def test_the_owner_cannot_stop_the_vacancy_it_pays_for(session):
    house = rented_house(session)
    location = session.get(ServiceLocation, house.location.id)
    location.owner_account_id = house.tenant.id
    with pytest.raises(OrderError, match="owns it and pays while it is vacant"):
        _stop(session, house)


def test_final_bills_are_utility_invoices_for_their_own_days(session):
    house = rented_house(session)
    order = _stop(session, house)
    final = session.get(Invoice, order.final_invoice_id)
    assert final.kind == InvoiceKind.UTILITY and final.billing_run_id is None


def test_a_stop_on_the_first_day_after_the_last_bill_bills_that_day_from_its_reading(session):
    house = rented_house(session)
    order = _stop(session, house, on=date(2026, 11, 1), reading=18500)

    final = session.get(Invoice, order.final_invoice_id)
    assert (final.period_start, final.period_end) == (date(2026, 11, 1), date(2026, 11, 1))
    assert not order.reading_estimated
    # 100 gallons since the October 31 read; 1 of 30 days of the fixed charges.
    assert final.total_cents == 40 + 50 + 20 + 30 + 60


def test_a_deposit_held_is_applied_to_the_final_bill_of_a_stop(session):
    house = rented_house(session)
    deposit = hold_deposit(
        session,
        CLERK,
        account_id=house.tenant.id,
        amount_cents=5000,
        held_since=date(2026, 3, 1),
        offset_gl_code=chart.CASH_DRAWER,
        source="counter",
    )
    order = _stop(session, house)

    final = session.get(Invoice, order.final_invoice_id)
    # The $30.80 final bill is paid from the $50.00 deposit; with no deposit rules loaded the
    # $19.20 left stays on the closed account as credit, for a clerk to refund.
    assert final.total_cents == 3080
    assert (final.status, final.balance_cents) == (InvoiceStatus.PAID, 0)
    assert deposit.status != DepositStatus.HELD
    # What the account still owes is its October bill alone.
    open_bills = session.scalars(
        sa.select(Invoice.balance_cents).where(Invoice.account_id == house.tenant.id)
    ).all()
    assert account_receivable(session, house.tenant.id) == sum(open_bills) == 7920
    assert account_credit(session, house.tenant.id) == 1920
    assert gl_balance(session, chart.DEPOSITS_HELD) == 0
