"""A small billed town with something behind every kind of id the API takes in its paths."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Flask

from accounts.models import Account
from billing.models import Invoice
from core.audit import Actor
from core.db import utcnow
from core.extensions import db
from notices import content
from notices.issuing import issue_and_deliver
from notices.print_batches import print_batch
from payments.bank_deposits import deposit_drawers
from payments.counter import close_drawer, open_drawer, take_counter_payment
from payments.models import Payment, ReconciliationKind, Tender
from payments.reconcile_queue import flag
from payments.refunds import refund_payment
from portal import questions
from tests.billing.billing_fixtures import bill_households, load_demo_levy
from tests.conftest import TODAY

CLERK = Actor.system("counter clerk")
SUPERVISOR = Actor.system("supervisor")


def build_town(app: Flask) -> None:
    """Billed households, a tax levy, a disputed bill (its reminders paused), a counter payment
    partly refunded, a bill notice, a print batch and an item in the reconciliation queue:
    something behind every kind of path parameter the API takes."""
    billed = bill_households(app, "olson", "berg", "nguyen")
    with app.app_context():
        session = db.session
        load_demo_levy(session, 2025)
        account = session.scalar(sa.select(Account).where(Account.number == billed[0].number))
        number = billed[0].invoice_number
        invoice = session.scalar(sa.select(Invoice).where(Invoice.number == number))
        dispute(session, account, invoice)
        pay_at_the_counter_and_refund_part(session, account)
        a_drawer_deposited(session, account)
        notice = content.bill(session, app.config, invoice)
        issue_and_deliver(
            session,
            app.config,
            CLERK,
            notice,
            account=account,
            deliver="download",
            invoice_id=invoice.id,
        )
        print_batch(session, app.config, CLERK, cycle="2026-10", on=date(2026, 11, 2))
        flag(
            session,
            CLERK,
            ReconciliationKind.UNKNOWN_HERE,
            "pi_fuzz_names_no_payment",
            payment=None,
            ours={},
            theirs={"amount": 1000},
            suggestion="Find the payment this intent was for.",
        )
        session.commit()


def dispute(session, account: Account, invoice: Invoice) -> None:
    """The resident disputes the bill: a question for the clerks, and its reminders paused."""
    questions.ask(
        session,
        Actor("resident", None, f"quickpay:{account.number}", None),
        account=account,
        invoice=invoice,
        kind="dispute",
        message="The October reading looks too high.",
        reply_to="",
        language="en",
        resident_id=None,
        now=utcnow(),
    )


def pay_at_the_counter_and_refund_part(session, account: Account) -> None:
    """Ten dollars in cash at the counter, three of them refunded."""
    receipt = take_counter_payment(
        session,
        CLERK,
        drawer=open_drawer(session, CLERK),
        account=account,
        amount_cents=1000,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[],
        on=TODAY,
    )
    payment = session.get(Payment, receipt.payment_id)
    refund_payment(session, SUPERVISOR, payment, amount_cents=300, reason="Paid twice", on=TODAY)


def a_drawer_deposited(session, account: Account) -> None:
    """Another clerk's drawer: a check taken, the drawer closed and deposited (in transit)."""
    clerk = Actor("user", "98", "second.clerk@example.org", "127.0.0.1")
    drawer = open_drawer(session, clerk)
    take_counter_payment(
        session,
        clerk,
        drawer=drawer,
        account=account,
        amount_cents=500,
        tender=Tender.CHECK,
        reference="2001",
        invoice_numbers=[],
        on=TODAY,
    )
    close_drawer(
        session, clerk, drawer, counted_cents={"check": 500}, on=TODAY, approval_limit_cents=0
    )
    deposit_drawers(session, clerk, [drawer], on=TODAY)
