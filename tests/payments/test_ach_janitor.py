"""The janitor brings a bank debit whose events were lost up to what Stripe says: a success is
settled on the day it learns of it (never the click's), a failure is a return with its code."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from core.calendar import town_date, town_zone
from core.db import utcnow
from core.extensions import db
from core.scheduling import find, run_entry
from payments.ach_models import AchReturn
from payments.models import Payment, PaymentStatus, Receipt
from scheduler import SCHEDULE
from tests.payments.test_ach_returns import _debit
from tests.payments.test_gateway import http_server
from tests.payments.test_webhooks import TOTAL, _town

JANITOR = find(SCHEDULE, "janitor")
CLICKED = timedelta(days=3)


def _stripe_says(status: str, error: dict | None = None):
    """A stand-in Stripe that answers every intent as the ACH debit in this state."""

    def respond(method, path, headers, body):
        """The intent, as Stripe's API reference shows it."""
        return 200, {
            "id": path.split("?")[0].rsplit("/", 1)[1],
            "object": "payment_intent",
            "amount": TOTAL,
            "amount_received": TOTAL if status == "succeeded" else 0,
            "currency": "usd",
            "created": int((utcnow() - CLICKED).timestamp()),
            "payment_method_types": ["us_bank_account"],
            "status": status,
            "last_payment_error": error,
            "metadata": {},
        }

    return respond


def _processing_since_days(app, account_id: int) -> int:
    """A bank debit confirmed three days ago, still processing here."""
    payment_id = _debit(app, account_id)
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        payment.status, payment.created_at = PaymentStatus.PROCESSING, utcnow() - CLICKED
        db.session.commit()
    return payment_id


def _janitor(app, respond):
    """The janitor's run against the stand-in."""
    with http_server(respond) as base:
        app.config.update(
            STRIPE_API_BASE=base, STRIPE_SECRET_KEY="sk_test_janitor", STRIPE_MAX_NETWORK_RETRIES=0
        )
        return run_entry(app, JANITOR)


def test_a_success_whose_event_was_lost_is_settled_on_the_day_it_is_learnt(app):
    (account_id,) = _town(app)
    payment_id = _processing_since_days(app, account_id)
    _janitor(app, _stripe_says("succeeded"))
    with app.app_context():
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        today = town_date(utcnow(), town_zone(app.config))
        assert receipt is not None and receipt.paid_on == today


def test_a_return_whose_event_was_lost_is_recorded_with_its_code_and_fee(app):
    (account_id,) = _town(app)
    payment_id = _processing_since_days(app, account_id)
    error = {"type": "invalid_request_error", "code": "account_closed", "message": "Closed."}
    _janitor(app, _stripe_says("requires_payment_method", error))
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "R02")
        returned = db.session.scalar(sa.select(AchReturn))
        assert returned.payment_id == payment_id and returned.fee_charge_id is not None
