"""Bills cleared without a payment, against the database: a waived reconnection fee goes back
against 4540 Reconnection fees (not 4520), and a credit memo, a waiver or a payment plan
accepted for the past-due bills of a shut-off account makes the reconnection order in its own
transaction (SB 998: service restored under an alternative arrangement)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from billing.adjustments import issue_credit_memo, waive_charge
from billing.arrangements import PlanRequest, accept_plan, propose_plan
from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceKind,
    ReconnectionOrder,
    ShutoffOrder,
)
from billing.reconnection import service_shut_off
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from ledger import chart
from ledger.balances import gl_balance
from ledger.models import JournalEntry, JournalLine
from ledger.verify import verify_chain
from notices.shutoff_field_results import SHUT_OFF, Result, enter_result
from tests.billing.plan_fixtures import add_rule
from tests.notices.field_fixtures import CLERK, FEE, WORK_DAY, at, hang_and_issue, one

SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
NEXT_DAY = date(2027, 1, 8)


def _shut_off(app) -> ShutoffOrder:
    one(app)
    (order,) = hang_and_issue(app)
    enter_result(db.session, app.config, CLERK, order, Result(SHUT_OFF, at(WORK_DAY, 9, 30)))
    db.session.commit()
    return order


def _past_due(order: ShutoffOrder) -> list[Invoice]:
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.account_id == order.account_id,
                Invoice.kind == InvoiceKind.UTILITY,
                Invoice.due_date < order.work_on,
                Invoice.balance_cents > 0,
            )
            .order_by(Invoice.id)
        )
    )


def _reconnections() -> list[ReconnectionOrder]:
    return list(db.session.scalars(sa.select(ReconnectionOrder)))


def test_a_waived_reconnection_fee_goes_back_against_reconnection_fees(app):
    with app.app_context():
        order = _shut_off(app)
        charge = db.session.get(InvoiceCharge, order.fee_charge_id)
        assert gl_balance(db.session, chart.RECONNECTION_FEES) == FEE
        waive_charge(db.session, SUPERVISOR, charge, reason="crew at the wrong house", on=NEXT_DAY)
        db.session.commit()
        assert gl_balance(db.session, chart.RECONNECTION_FEES) == 0
        assert gl_balance(db.session, chart.RETURNED_PAYMENT_FEES) == 0
        entry = db.session.scalar(
            sa.select(JournalEntry).where(
                JournalEntry.source_type == "waiver", JournalEntry.source_id == str(charge.id)
            )
        )
        lines = {
            (line.gl_account.code, line.debit_cents, line.credit_cents)
            for line in db.session.scalars(
                sa.select(JournalLine).where(JournalLine.entry_id == entry.id)
            )
        }
        assert lines == {
            (chart.RECONNECTION_FEES, FEE, 0),
            (chart.PENALTY_RECEIVABLE, 0, FEE),
        }
        assert charge.balance_cents == 0 and charge.waived_at is not None
        # The past-due bills are still owed: the service stays off.
        assert _reconnections() == [] and service_shut_off(db.session, order.account_id)
        assert verify_chain(db.session).ok


def test_a_credit_memo_that_clears_the_past_due_bills_reconnects(app):
    with app.app_context():
        order = _shut_off(app)
        waive_charge(
            db.session,
            SUPERVISOR,
            db.session.get(InvoiceCharge, order.fee_charge_id),
            reason="first shutoff",
            on=NEXT_DAY,
        )
        bills = _past_due(order)
        *earlier, last = bills
        for invoice in earlier:
            issue_credit_memo(
                db.session,
                SUPERVISOR,
                invoice,
                amount_cents=invoice.balance_cents,
                reason="billing error",
                on=NEXT_DAY,
            )
        assert _reconnections() == []
        issue_credit_memo(
            db.session,
            SUPERVISOR,
            last,
            amount_cents=last.balance_cents,
            reason="billing error",
            on=NEXT_DAY,
        )
        db.session.commit()
        (reconnection,) = _reconnections()
        assert reconnection.shutoff_order_id == order.id
        assert reconnection.number.startswith("RC-") and reconnection.paid_at is not None
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "reconnection_order.create")
        )
        assert event.summary["how"] == "credit_memo"
        assert verify_chain(db.session).ok


def test_a_partial_credit_memo_leaves_the_service_off(app):
    with app.app_context():
        order = _shut_off(app)
        invoice = _past_due(order)[0]
        issue_credit_memo(
            db.session, SUPERVISOR, invoice, amount_cents=100, reason="goodwill", on=NEXT_DAY
        )
        db.session.commit()
        assert _reconnections() == []


def test_a_plan_accepted_for_the_past_due_bills_restores_the_service(app):
    with app.app_context():
        order = _shut_off(app)
        add_rule(db.session, effective=date(2026, 1, 1))
        account = order.account
        plan = propose_plan(
            db.session,
            CLERK,
            account,
            PlanRequest(("utility",), 2000, 3),
            as_of=NEXT_DAY,
            via="clerk",
        )
        db.session.commit()
        # Proposed only: nothing yet.
        assert _reconnections() == []
        accept_plan(
            db.session,
            CLERK,
            plan,
            how="counter",
            on=NEXT_DAY,
            at=datetime(2027, 1, 8, 16, tzinfo=UTC),
        )
        db.session.commit()
        (reconnection,) = _reconnections()
        assert reconnection.shutoff_order_id == order.id
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "reconnection_order.create")
        )
        assert event.summary["how"] == "plan"
