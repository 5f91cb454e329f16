"""Autopay pays a payment plan: on each installment's due date it charges what of that
installment is unpaid, to the bills the plan includes, never the whole included bill."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from billing.arrangements import PlanRequest, accept_plan, propose_plan
from core.extensions import db
from payments.models import Payment
from portal.autopay_charging import due_charges
from portal.models import Autopay, AutopayCharge
from tests.billing.plan_fixtures import CLERK, account_of, add_rule
from tests.payments import conftest as payments_fixtures
from tests.payments.signing import deliver, intent_event
from tests.portal.test_autopay import olson, rows, run, save_card, stripe_app  # noqa: F401

localstripe = payments_fixtures.localstripe
localstripe_fresh = payments_fixtures.localstripe_fresh
stripe_settings = payments_fixtures.stripe_settings

#: Enrolled after the bill fell due (November 23): autopay leaves that bill to the resident.
ENROLLED = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
START = date(2026, 11, 30)


def _enrolled_with_a_plan(app, client, billed) -> tuple[dict[date, int], int]:
    """Autopay on from ENROLLED, and a plan accepted on START: its amounts by due date and its
    included invoice."""
    assert save_card(app, client).status_code == 200
    with app.app_context():
        for row in db.session.scalars(sa.select(Autopay)):
            row.created_at = ENROLLED
        add_rule(db.session)
        plan = propose_plan(
            db.session,
            CLERK,
            account_of(billed.number),
            PlanRequest(("utility",), billed.owed_cents // 4, 3),
            as_of=START,
            via="clerk",
        )
        accept_plan(db.session, CLERK, plan, how="counter", on=START, at=datetime.now(UTC))
        db.session.commit()
        amounts = {i.due_date: i.amount_cents for i in plan.installments}
        return amounts, plan.invoices[0].invoice_id


def test_autopay_charges_each_installment_on_its_due_date(stripe_app, olson, client, billed):  # noqa: F811
    amounts, invoice_id = _enrolled_with_a_plan(stripe_app, olson, billed)
    with stripe_app.app_context():
        assert due_charges(db.session, date(2026, 11, 29)) == []
        (down,) = due_charges(db.session, START)
        assert (down.due_date, down.amount_cents) == (START, amounts[START])
    assert run(stripe_app, START)["charged"] == 1
    assert run(stripe_app, START)["charged"] == 0  # a rerun charges nothing new
    (payment,) = rows(stripe_app, Payment)
    assert payment.amount_cents == amounts[START] < billed.owed_cents
    assert payment.invoice_ids == [invoice_id]
    assert run(stripe_app, date(2026, 12, 29))["charged"] == 0
    # the webhook pays the down payment; the first installment is charged on its day
    with stripe_app.app_context():
        event = intent_event("payment_intent.succeeded", db.session.get(Payment, payment.id))
    secret = stripe_app.config["STRIPE_WEBHOOK_SECRET"]
    assert deliver(client, event, secret=secret).status_code == 200
    assert run(stripe_app, date(2026, 12, 30))["charged"] == 1
    charges = rows(stripe_app, AutopayCharge)
    assert [c.due_date for c in charges] == [START, date(2026, 12, 30)]
    assert [p.amount_cents for p in rows(stripe_app, Payment)] == [
        amounts[START],
        amounts[date(2026, 12, 30)],
    ]
