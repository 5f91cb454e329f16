"""Making one journal entry of each bank deposit kind through its service
(tests/ledger/test_entry_sources.py): a drawer's short, a deposit made, a deposit at the bank."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from core.extensions import db
from payments.bank_deposits import confirm_at_bank, deposit_drawers
from payments.counter import close_drawer
from payments.models import BankDeposit, CashDrawer, Payment
from tests.ledger.billing_postings import DAY, Posted, newest
from tests.ledger.payment_postings import CLERK, _counter_paid


def _closed_drawer(app: Flask, short_cents: int = 0) -> int:
    """A drawer that took one cash payment, closed counted short by short_cents; its id."""
    payment_id = _counter_paid(app)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        drawer = db.session.get(CashDrawer, payment.drawer_id)
        close_drawer(
            db.session,
            CLERK,
            drawer,
            counted_cents={"cash": payment.amount_cents - short_cents},
            on=DAY,
            approval_limit_cents=short_cents,
        )
        db.session.commit()
        return drawer.id


def drawer_short(app: Flask, client: FlaskClient) -> Posted:
    """A drawer counted a dollar short: Dr 5300 / Cr 1010."""
    drawer_id = _closed_drawer(app, short_cents=100)
    with app.app_context():
        return Posted(newest(), str(drawer_id), f"Drawer {drawer_id} counted short by $1.00")


def _deposited(app: Flask) -> str:
    """A closed drawer deposited; the deposit's number."""
    drawer_id = _closed_drawer(app)
    with app.app_context():
        made = deposit_drawers(db.session, CLERK, [db.session.get(CashDrawer, drawer_id)], on=DAY)
        db.session.commit()
        return made.number


def deposit_made(app: Flask, client: FlaskClient) -> Posted:
    """A drawer's money to deposits in transit: Dr 1050 / Cr 1010."""
    number = _deposited(app)
    with app.app_context():
        return Posted(newest(), number, f"Bank deposit {number} of")


def deposit_at_bank(app: Flask, client: FlaskClient) -> Posted:
    """The deposit reached the bank: Dr 1000 / Cr 1050."""
    number = _deposited(app)
    with app.app_context():
        deposit = db.session.scalar(sa.select(BankDeposit).where(BankDeposit.number == number))
        confirm_at_bank(db.session, CLERK, deposit, reached_on=date(2026, 11, 23))
        db.session.commit()
        return Posted(newest(), number, f"Bank deposit {number} reached the bank")
