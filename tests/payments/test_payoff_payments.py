"""Paying a tax payoff quote: the parcel is settled once however many pay, the second payer's
money is a refund to send back to them, a payment after the good-through date settles what it
covers and the clerks see the rest, and a quote for a past date is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import Parcel
from billing.models import Invoice, PayoffOutcome, PayoffPayment, QuoteStatus, Settlement
from billing.payoff import PayoffRefused, Requested, quote
from billing.penalty_service import assess_penalties
from billing.position import TAX, account_position
from core.audit import Actor
from ledger.balances import account_credit
from payments.counter import open_drawer, take_counter_payment
from payments.models import Refund, RefundStatus, Tender
from payments.payoff_payments import late_payments, parcel_owes, pay_quote_at_counter
from payments.services import PaymentRefused
from tests.billing.billing_fixtures import tax_owner

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
TODAY = date(2026, 11, 26)
LENDER = Requested("lender", "First Lakeshore Bank", "PO Box 12\nMaple Falls, WI 54901")
OWNER = Requested("owner", "Owner P-200", "1 Oak St\nMaple Falls, WI 54901")


@pytest.fixture
def parcel(session) -> Parcel:
    """A parcel whose 2025 tax is delinquent, its penalties assessed through today."""
    tax_owner(session, "Owner P-200", "P-200", 250_000)
    assess_penalties(session, Actor.job("assess_late_fees"), as_of=TODAY, rounding="half_up")
    return session.scalar(sa.select(Parcel).where(Parcel.parcel_number == "P-200"))


def _pay(session, drawer, issued, cents, payer, on=TODAY, tender=Tender.CHECK):
    """A check against the quote at the counter."""
    return pay_quote_at_counter(
        session,
        CLERK,
        issued,
        drawer=drawer,
        amount_cents=cents,
        tender=tender,
        reference=f"{payer[:10]}-1001",
        payer_name=payer,
        on=on,
        rounding="half_up",
    )


def test_owner_and_lender_both_pay_the_parcel_is_settled_once_and_one_refund_is_to_send(
    session, parcel
):
    drawer = open_drawer(session, CLERK)
    ours = quote(session, CLERK, parcel, TODAY, OWNER, today=TODAY, rounding="half_up")
    theirs = quote(session, CLERK, parcel, TODAY, LENDER, today=TODAY, rounding="half_up")
    assert ours.amount_cents == theirs.amount_cents > 0
    first = _pay(session, drawer, ours, ours.amount_cents, "Owner P-200")
    second = _pay(session, drawer, theirs, theirs.amount_cents, "First Lakeshore Bank")
    assert (first.outcome, first.applied_cents, first.refund_cents) == (
        PayoffOutcome.SETTLED,
        ours.amount_cents,
        0,
    )
    assert (second.outcome, second.applied_cents, second.refund_cents) == (
        PayoffOutcome.REFUNDED,
        0,
        theirs.amount_cents,
    )
    assert parcel_owes(session, ours, TODAY) == 0
    assert account_position(session, parcel.owner_account_id, TODAY).owed_cents(TAX) == 0
    settled = session.scalar(
        sa.select(sa.func.sum(Settlement.amount_cents)).where(
            Settlement.source_id == str(first.payment_id)
        )
    )
    assert settled == ours.amount_cents
    refunds = session.scalars(sa.select(Refund)).all()
    assert [(r.payment_id, r.amount_cents, r.status) for r in refunds] == [
        (second.payment_id, theirs.amount_cents, RefundStatus.SUCCEEDED)
    ]
    assert "First Lakeshore Bank" in refunds[0].reason
    assert account_credit(session, parcel.owner_account_id) == 0
    assert (ours.status, theirs.status) == (QuoteStatus.PAID, QuoteStatus.PAID)


def test_an_owner_paying_the_bills_then_the_lender_paying_the_quote_refunds_the_lender(
    session, parcel
):
    drawer = open_drawer(session, CLERK)
    issued = quote(session, CLERK, parcel, TODAY, LENDER, today=TODAY, rounding="half_up")
    invoices = session.scalars(sa.select(Invoice).where(Invoice.parcel_id == parcel.id)).all()
    take_counter_payment(
        session,
        CLERK,
        drawer=drawer,
        account=parcel.owner_account,
        amount_cents=issued.amount_cents,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[i.number for i in invoices],
        on=TODAY,
    )
    paid = _pay(session, drawer, issued, issued.amount_cents, "First Lakeshore Bank")
    assert (paid.outcome, paid.refund_cents) == (PayoffOutcome.REFUNDED, issued.amount_cents)
    assert parcel_owes(session, issued, TODAY) == 0
    assert account_credit(session, parcel.owner_account_id) == 0


def test_a_quote_paid_early_settles_the_parcel_and_refunds_the_interest_not_yet_due(
    session, parcel
):
    drawer = open_drawer(session, CLERK)
    issued = quote(
        session, CLERK, parcel, date(2027, 1, 20), LENDER, today=TODAY, rounding="half_up"
    )
    paid = _pay(session, drawer, issued, issued.amount_cents, "First Lakeshore Bank")
    assert paid.outcome == PayoffOutcome.SETTLED
    assert paid.refund_cents == issued.projected_cents > 0
    assert issued.status == QuoteStatus.PAID


def test_a_quote_paid_after_its_good_through_date_settles_what_it_covers_and_the_clerks_see_it(
    session, parcel
):
    drawer = open_drawer(session, CLERK)
    issued = quote(session, CLERK, parcel, TODAY, LENDER, today=TODAY, rounding="half_up")
    later = TODAY + timedelta(days=40)
    paid = _pay(session, drawer, issued, issued.amount_cents, "First Lakeshore Bank", on=later)
    assert paid.outcome == PayoffOutcome.LATE
    assert paid.applied_cents == issued.amount_cents and paid.refund_cents == 0
    owed = account_position(session, parcel.owner_account_id, later).owed_cents(TAX)
    assert paid.still_owed_cents == owed > 0
    assert issued.status == QuoteStatus.OPEN
    assert [p.id for p in late_payments(session)] == [paid.id]


def test_a_payoff_quote_for_a_past_date_is_refused_with_the_reason(session, parcel):
    with pytest.raises(PayoffRefused, match="a payoff quote cannot be for a past date"):
        quote(
            session,
            CLERK,
            parcel,
            TODAY - timedelta(days=1),
            LENDER,
            today=TODAY,
            rounding="half_up",
        )


def test_a_quote_payment_of_nothing_is_refused(session, parcel):
    drawer = open_drawer(session, CLERK)
    issued = quote(session, CLERK, parcel, TODAY, LENDER, today=TODAY, rounding="half_up")
    owed = parcel_owes(session, issued, TODAY)

    with pytest.raises(PaymentRefused, match="greater than zero"):
        _pay(session, drawer, issued, 0, "First Lakeshore Bank")
    assert issued.status == QuoteStatus.OPEN
    assert parcel_owes(session, issued, TODAY) == owed
    assert session.scalar(sa.select(sa.func.count()).select_from(PayoffPayment)) == 0


def test_the_api_quotes_a_parcel_refuses_a_past_date_and_takes_the_quote_payment(
    app, client, api_headers
):
    from core.calendar import town_today
    from core.extensions import db

    with app.app_context():
        tax_owner(db.session, "Owner P-210", "P-210", 250_000)
        db.session.commit()
        today = town_today(app.config)
    headers = api_headers("supervisor")
    past = client.post(
        "/api/v1/payoff-quotes",
        json={"parcel": "P-210", "good_through": (today - timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert past.status_code == 422
    assert "a payoff quote cannot be for a past date" in str(past.get_json()["errors"])
    made = client.post(
        "/api/v1/payoff-quotes",
        json={
            "parcel": "P-210",
            "good_through": today.isoformat(),
            "requester": "lender",
            "requester_name": "First Lakeshore Bank",
            "requester_address": "PO Box 12\nMaple Falls, WI 54901",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    letter = client.get(f"/api/v1/payoff-quotes/{body['number']}/letter", headers=headers)
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF")
    drawer = client.post("/api/v1/drawers", json={"opening_float_cents": 0}, headers=headers)
    assert drawer.status_code == 201, drawer.get_json()
    paid = client.post(
        f"/api/v1/payoff-quotes/{body['number']}/payments",
        json={
            "drawer_id": drawer.get_json()["id"],
            "amount_cents": body["amount_cents"],
            "tender": "check",
            "reference": "88121",
            "payer_name": "First Lakeshore Bank",
        },
        headers=headers,
    )
    assert paid.status_code == 201, paid.get_json()
    assert paid.get_json()["outcome"] == "settled"
    assert paid.get_json()["quote_status"] == "paid"
    again = client.get(f"/api/v1/payoff-quotes/{body['number']}", headers=headers)
    assert again.get_json()["status"] == "paid"
