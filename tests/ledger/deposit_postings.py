"""Making the journal entries of deposits through their services (tests/ledger/test_entry_sources.py)."""

from __future__ import annotations

from datetime import date

from billing.deposits import apply_to_final_bill, hold_deposit
from core.extensions import db
from ledger import chart
from tests.ledger.billing_postings import SUPERVISOR, Posted, bill_of, newest
from tests.payments.test_webhooks import _town


def _held(app) -> tuple[int, int]:
    """A household's deposit of $50.00 held at the counter; (account id, deposit id)."""
    (account_id,) = _town(app)
    with app.app_context():
        deposit = hold_deposit(
            db.session,
            SUPERVISOR,
            account_id=account_id,
            amount_cents=5000,
            held_since=date(2026, 3, 1),
            offset_gl_code=chart.CASH_DRAWER,
            source="counter",
        )
        db.session.commit()
        return account_id, deposit.id


def deposit_held(app, client) -> Posted:
    """A deposit held at the counter."""
    _account_id, deposit_id = _held(app)
    with app.app_context():
        return Posted(newest(), str(deposit_id), f"Deposit {deposit_id} held")


def deposit_applied(app, client) -> Posted:
    """A deposit applied to the final bill."""
    account_id, deposit_id = _held(app)
    with app.app_context():
        apply_to_final_bill(db.session, SUPERVISOR, bill_of(account_id).id)
        db.session.commit()
        return Posted(newest(), str(deposit_id), f"Deposit {deposit_id} applied to final bill")
