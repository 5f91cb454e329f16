"""A lender's or title company's check naming a payoff quote, in a lockbox or bill-pay file:
applied to the quote at import, so the parcel is settled once and a second payer's money is a
refund to send; an item naming an unknown, expired or replaced quote waits with its reason,
and a clerk applies it to a quote from the queue."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import Parcel
from accounts.services import FormerNumbers
from billing.models import Invoice, PayoffOutcome, PayoffPayment, QuoteStatus, Settlement
from billing.payoff import Requested, quote
from billing.penalty_service import assess_penalties
from core.audit import Actor
from ledger import chart
from ledger.balances import account_credit, gl_balance
from payments.counter import open_drawer
from payments.lockbox import import_file
from payments.lockbox_layouts import load_layout
from payments.lockbox_queue import QueueRefused
from payments.models import (
    Channel,
    Payment,
    Refund,
    RefundStatus,
    RemittanceFile,
    RemittanceItem,
    RemittanceStatus,
    Tender,
)
from payments.payoff_lockbox import QuoteTerms, quote_number
from payments.payoff_payments import apply_item_to_quote, parcel_owes, pay_quote_at_counter
from payments.services import record_payment, settle_payment
from tests.billing.billing_fixtures import tax_owner
from tests.payments.lockbox_files import Check, bai, csv_lockbox, rpps

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
TODAY = date(2026, 11, 26)
TERMS = QuoteTerms("half_up")
LENDER = Requested("lender", "First Lakeshore Bank", "PO Box 12\nMaple Falls, WI 54901")
TITLE = Requested("title_company", "Badger Title", "2 Main St\nMaple Falls, WI 54901")
OWNER = Requested("owner", "Owner P-300", "1 Oak St\nMaple Falls, WI 54901")


@pytest.fixture
def parcel(session) -> Parcel:
    """A parcel whose 2025 tax is delinquent, its penalties assessed through today."""
    tax_owner(session, "Owner P-300", "P-300", 250_000)
    assess_penalties(session, Actor.job("assess_late_fees"), as_of=TODAY, rounding="half_up")
    return session.scalar(sa.select(Parcel).where(Parcel.parcel_number == "P-300"))


def _issue(session, parcel, requested, through=TODAY):
    return quote(session, CLERK, parcel, through, requested, today=TODAY, rounding="half_up")


def _import(session, data, layout="bai-lockbox", today=TODAY, quotes=TERMS):
    return import_file(
        session,
        CLERK,
        data,
        layout=load_layout(layout),
        filename="lockbox.txt",
        today=today,
        accepted=FormerNumbers(today=today, days=365),
        quotes=quotes,
    )


def _settled_cents(session, payment_id: int) -> int:
    return session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Settlement.amount_cents), 0)).where(
            Settlement.source_id == str(payment_id)
        )
    )


def test_a_quote_number_is_read_from_the_stub_or_reference_and_nothing_else():
    assert quote_number("PQ-2026-000012") == "PQ-2026-000012"
    assert quote_number("", " pq-2026-000012 ") == "PQ-2026-000012"
    assert quote_number("PQ 2026 000012".replace(" ", "-")) == "PQ-2026-000012"
    assert quote_number("123456785", "PQ-2026-12", "PQ-2026-0000123", None) is None


def test_the_owner_pays_at_the_counter_then_the_lenders_check_naming_the_quote_is_refunded(
    session, parcel
):
    ours, theirs = _issue(session, parcel, OWNER), _issue(session, parcel, LENDER)
    drawer = open_drawer(session, CLERK)
    owner_paid = pay_quote_at_counter(
        session,
        CLERK,
        ours,
        drawer=drawer,
        amount_cents=ours.amount_cents,
        tender=Tender.CASH,
        reference=None,
        payer_name="Owner P-300",
        on=TODAY,
        rounding="half_up",
    )
    # a BAI lockbox names no payer: the payer is whom the quote was issued to
    check = Check(theirs.amount_cents, theirs.number, "88001")

    report = _import(session, bai([check], TODAY))

    assert (report.settled, report.exceptions) == (1, [])
    assert report.quotes[0]["quote"] == theirs.number
    assert report.quotes[0]["outcome"] == "refunded"
    item = session.scalar(sa.select(RemittanceItem))
    assert (item.status, item.account_id) == (RemittanceStatus.APPLIED, parcel.owner_account_id)
    lenders = session.scalar(
        sa.select(PayoffPayment).where(PayoffPayment.payment_id == item.payment_id)
    )
    assert (lenders.quote_id, lenders.outcome, lenders.applied_cents, lenders.refund_cents) == (
        theirs.id,
        PayoffOutcome.REFUNDED,
        0,
        theirs.amount_cents,
    )
    assert lenders.payer_name == "First Lakeshore Bank"
    # the parcel was settled once, by the owner; the lender's check settled nothing
    assert _settled_cents(session, owner_paid.payment_id) == ours.amount_cents
    assert _settled_cents(session, item.payment_id) == 0
    assert parcel_owes(session, ours, TODAY) == 0
    refund = session.get(Refund, lenders.refund_id)
    assert (refund.payment_id, refund.amount_cents, refund.status) == (
        item.payment_id,
        theirs.amount_cents,
        RefundStatus.SUCCEEDED,
    )
    assert "to be sent back to First Lakeshore Bank" in refund.reason
    assert account_credit(session, parcel.owner_account_id) == 0
    # the lender's money is owed back (refunds payable), nothing is left held for the clerks
    assert gl_balance(session, chart.REMITTANCES_HELD) == 0
    assert session.scalar(sa.select(RemittanceFile.exception_count)) == 0


def test_a_title_companys_bill_pay_naming_the_quote_pays_the_parcel_off_at_import(session, parcel):
    issued = _issue(session, parcel, TITLE, through=TODAY + timedelta(days=20))
    payment = Check(issued.amount_cents, "", "", account=issued.number, payer="BADGER TITLE")

    report = _import(session, rpps([payment], TODAY), layout="rpps-billpay")

    assert report.quotes[0]["outcome"] == "settled"
    item = session.scalar(sa.select(RemittanceItem))
    paid = session.scalar(sa.select(PayoffPayment))
    assert (paid.payment_id, paid.outcome) == (item.payment_id, PayoffOutcome.SETTLED)
    # paid early: the interest projected past the deposit date is refunded, the parcel owes 0
    assert paid.applied_cents + paid.refund_cents == issued.amount_cents
    assert paid.applied_cents == _settled_cents(session, item.payment_id)
    assert parcel_owes(session, issued, TODAY) == 0
    assert issued.status == QuoteStatus.PAID
    assert session.get(Payment, item.payment_id).tender == Tender.BILL_PAY


def test_items_naming_an_unknown_expired_or_replaced_quote_wait_with_the_reason(session, parcel):
    expired = _issue(session, parcel, LENDER)  # good through today; deposited tomorrow
    replaced = _issue(session, parcel, TITLE, through=TODAY + timedelta(days=30))
    newer = _issue(session, parcel, TITLE, through=TODAY + timedelta(days=40))
    owed = parcel_owes(session, expired, TODAY)
    checks = [
        Check(10_000, "PQ-2026-999999", "7001", payer="NOBODY"),
        Check(expired.amount_cents, expired.number, "7002", payer="FIRST LAKESHORE BANK"),
        Check(replaced.amount_cents, "", "7003", account=replaced.number, payer="BADGER TITLE"),
    ]
    deposited = TODAY + timedelta(days=1)

    report = _import(session, csv_lockbox(checks, deposited), "csv-lockbox", deposited)

    assert [(e["reason"], e["quote"]) for e in report.exceptions] == [
        ("unknown_quote", "PQ-2026-999999"),
        ("quote_expired", expired.number),
        ("quote_superseded", replaced.number),
    ]
    details = [e["detail"] for e in report.exceptions]
    assert details[0] == "no payoff quote has the number PQ-2026-999999"
    assert f"was good through {TODAY.isoformat()}" in details[1]
    assert "replaced by a newer quote for Badger Title" in details[2]
    items = session.scalars(sa.select(RemittanceItem).order_by(RemittanceItem.sequence)).all()
    assert {i.status for i in items} == {RemittanceStatus.EXCEPTION}
    assert session.scalar(sa.select(sa.func.count()).select_from(PayoffPayment)) == 0
    assert parcel_owes(session, expired, TODAY) == owed
    assert gl_balance(session, chart.REMITTANCES_HELD) == sum(c.amount_cents for c in checks)
    assert newer.status == QuoteStatus.OPEN


def test_a_clerk_applies_a_waiting_item_to_the_quote_once_and_bad_choices_change_nothing(
    session, parcel
):
    replaced = _issue(session, parcel, LENDER, through=TODAY + timedelta(days=5))
    issued = _issue(session, parcel, LENDER, through=TODAY + timedelta(days=10))
    # without the town's penalty settings the import cannot pay quotes: the item waits
    report = _import(
        session, bai([Check(issued.amount_cents, issued.number, "9001")], TODAY), quotes=None
    )
    assert [e["reason"] for e in report.exceptions] == ["payoff_quote"]
    item = session.scalar(sa.select(RemittanceItem))

    def apply(to, note="lender's payoff check"):
        return apply_item_to_quote(
            session, CLERK, item, to, note=note, on=TODAY, rounding="half_up"
        )

    with pytest.raises(QueueRefused, match="no payoff quote has this number"):
        apply(None)
    with pytest.raises(QueueRefused, match=f"{replaced.number} was replaced by a newer quote"):
        apply(replaced)
    with pytest.raises(QueueRefused, match="say why"):
        apply(issued, note="ok")
    assert item.status == RemittanceStatus.EXCEPTION and item.payment_id is None
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0

    paid = apply(issued)
    assert (paid.outcome, item.status) == (PayoffOutcome.SETTLED, RemittanceStatus.APPLIED)
    assert item.payment_id == paid.payment_id and parcel_owes(session, issued, TODAY) == 0
    assert gl_balance(session, chart.REMITTANCES_HELD) == 0
    with pytest.raises(QueueRefused, match="already applied"):
        apply(issued)


def test_the_owner_pays_the_tax_online_then_the_lenders_check_naming_the_quote_is_refunded(
    session, parcel
):
    theirs = _issue(session, parcel, LENDER, through=TODAY + timedelta(days=10))
    owed = parcel_owes(session, theirs, TODAY)
    invoices = session.scalars(
        sa.select(Invoice.number).where(Invoice.parcel_id == parcel.id)
    ).all()
    # a card payment of the owner's tax bills, settled as the Stripe webhook settles it
    online = record_payment(
        session,
        CLERK,
        account=parcel.owner_account,
        amount_cents=owed,
        invoice_numbers=list(invoices),
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    settle_payment(session, CLERK, online, on=TODAY, cash_gl=chart.STRIPE_CLEARING)
    assert parcel_owes(session, theirs, TODAY) == 0

    report = _import(session, bai([Check(theirs.amount_cents, theirs.number, "88002")], TODAY))

    assert report.quotes[0]["outcome"] == "refunded"
    item = session.scalar(sa.select(RemittanceItem))
    assert _settled_cents(session, online.id) == owed
    assert _settled_cents(session, item.payment_id) == 0
    refund = session.scalar(sa.select(Refund).where(Refund.payment_id == item.payment_id))
    assert refund.amount_cents == theirs.amount_cents
    assert "to be sent back to First Lakeshore Bank" in refund.reason
    assert account_credit(session, parcel.owner_account_id) == 0
