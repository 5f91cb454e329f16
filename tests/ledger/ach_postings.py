"""The postings of bank debits sent back by the resident's bank, made through their real
services: told by signed events (test_entry_sources)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from core.extensions import db
from ledger.models import JournalEntry
from payments.ach_models import AchReturn
from payments.models import Payment
from tests.ledger.billing_postings import Posted
from tests.payments.signing import deliver
from tests.payments.test_ach_returns import RETURN, TOTAL, _charge_failed, _settled
from tests.payments.test_bank_fees import returned_with_fee
from tests.payments.test_webhooks import _town


def _returned(app: Flask, client) -> int:
    """A settled bank debit that its bank returned (R01); the payment's id."""
    (account_id,) = _town(app)
    payment_id = _settled(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    deliver(client, _charge_failed(intent_id, TOTAL, "insufficient_funds", created=RETURN))
    return payment_id


def _entry(source_type: str) -> int:
    """The seq of the one entry of that source type."""
    return db.session.scalar(
        sa.select(JournalEntry.seq).where(JournalEntry.source_type == source_type)
    )


def debit_returned(app: Flask, client) -> Posted:
    """The settlement of a bank debit reversed when its bank returned it."""
    payment_id = _returned(app, client)
    with app.app_context():
        return Posted(_entry("ach_return"), str(payment_id), f"Bank debit {payment_id} returned")


def returned_payment_fee(app: Flask, client) -> Posted:
    """The returned-payment fee charged for it."""
    payment_id = _returned(app, client)
    with app.app_context():
        charge_id = db.session.scalar(
            sa.select(AchReturn.fee_charge_id).where(AchReturn.payment_id == payment_id)
        )
        return Posted(_entry("ach_return_fee"), str(charge_id), f"fee (charge {charge_id})")


def convenience_fee_returned(app: Flask, client) -> Posted:
    """The own-line convenience fee of a returned bank debit, reversed with it."""
    (account_id,) = _town(app)
    payment_id = returned_with_fee(app, client, account_id)
    with app.app_context():
        seq = db.session.scalar(
            sa.select(sa.func.max(JournalEntry.seq)).where(
                JournalEntry.source_type == "convenience_fee"
            )
        )
        return Posted(seq, str(payment_id), f"Convenience fee of payment {payment_id} reversed")
