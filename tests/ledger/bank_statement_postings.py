"""Making one journal entry of each bank statement kind through its service
(tests/ledger/test_entry_sources.py): a deposit the statement confirmed, a bank fee."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from core.extensions import db
from payments.bank_statements import import_statement
from payments.models import BankDeposit
from payments.statement_matching import FeeRule
from payments.statement_models import BankStatementLine
from tests.ledger.bank_deposit_postings import _deposited
from tests.ledger.billing_postings import Posted, newest
from tests.ledger.payment_postings import CLERK
from tests.payments.bank_files import CREDIT_CODE, FEE_CODE, bai2_statement

ON = date(2026, 11, 23)


def _import(app: Flask, lines) -> None:
    """Import a BAI2 statement of these lines, committed."""
    with app.app_context():
        data = bai2_statement(lines, day=ON, opening=10_000)
        import_statement(db.session, CLERK, data, filename="s.bai", fee_rule=FeeRule())
        db.session.commit()


def deposit_on_the_statement(app: Flask, client: FlaskClient) -> Posted:
    """A statement credit naming a deposit: Dr 1000 / Cr 1050."""
    number = _deposited(app)
    with app.app_context():
        cents = db.session.scalar(
            sa.select(BankDeposit.amount_cents).where(BankDeposit.number == number)
        )
    _import(app, [(cents, CREDIT_CODE, number, "DEPOSIT")])
    with app.app_context():
        return Posted(newest(), number, f"Bank deposit {number} reached the bank (statement")


def bank_fee_on_the_statement(app: Flask, client: FlaskClient) -> Posted:
    """A service charge on the statement: Dr 5400 / Cr 1000."""
    _import(app, [(-1200, FEE_CODE, "", "MONTHLY SERVICE CHARGE")])
    with app.app_context():
        ref = db.session.scalar(sa.select(BankStatementLine.matched_ref))
        return Posted(newest(), ref, "Bank fee $12.00 on statement")
