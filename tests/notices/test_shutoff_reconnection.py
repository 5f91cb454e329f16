"""Reconnection, against the database: a shutoff charges the rule's fee on the delinquency's
bill (Dr 1190 / Cr 4540); the payment that clears what was past due with that fee makes the
reconnection order in its own transaction, whatever the channel and the hour (a Stripe webhook
at night, the lockbox import); a payment at the door goes through the counter and the service
stays on."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date

import pytest
import sqlalchemy as sa

from accounts.models import Account
from accounts.services import FormerNumbers
from billing.models import (
    InvoiceCharge,
    NotDoneReason,
    OrderState,
    ReconnectionOrder,
    ShutoffOrder,
)
from billing.reconnection import FEE_RULE, service_shut_off
from core.extensions import db
from core.models import AuditEvent
from ledger import chart
from ledger.balances import gl_balance
from ledger.models import GLAccount, GLType
from ledger.verify import verify_chain
from notices.scanline import scan_line
from notices.shutoff_field_pdf import reconnections_csv
from notices.shutoff_field_results import (
    PAID_AT_DOOR,
    SHUT_OFF,
    FieldError,
    Result,
    enter_result,
    reconnect,
)
from payments.counter import open_drawer
from payments.lockbox import import_file
from payments.lockbox_layouts import load_layout
from payments.models import Channel, Payment, Tender
from payments.services import record_payment
from tests.notices.field_fixtures import CLERK, FEE, WORK_DAY, at, hang_and_issue, one
from tests.payments.lockbox_files import Check, bai
from tests.payments.signing import deliver, intent_event

RESIDENT_NIGHT = at(date(2027, 1, 8), 2, 30)  # 2:30 in the morning, the offices closed


def _shut_off(app) -> ShutoffOrder:
    """One household's order of WORK_DAY, shut off at 9:30 with the meter read."""
    one(app)
    (order,) = hang_and_issue(app)
    enter_result(
        db.session,
        app.config,
        CLERK,
        order,
        Result(SHUT_OFF, at(WORK_DAY, 9, 30), meter_reading=18400),
    )
    db.session.commit()
    return order


def _owed_to_reconnect(order: ShutoffOrder) -> int:
    """What was past due at the shutoff, with the reconnection fee."""
    return order.amount_cents + FEE


def test_a_shutoff_charges_the_rules_fee_and_the_account_shows_service_shut_off(app):
    with app.app_context():
        order = _shut_off(app)
        charge = db.session.get(InvoiceCharge, order.fee_charge_id)
        assert (charge.rule_id, charge.amount_cents, charge.invoice_id) == (
            FEE_RULE,
            FEE,
            order.invoice_id,
        )
        assert gl_balance(db.session, chart.RECONNECTION_FEES) == FEE
        assert service_shut_off(db.session, order.account_id).id == order.id
        assert order.state is OrderState.SHUT_OFF and order.meter_reading == 18400
        assert verify_chain(db.session).ok
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
        assert {"shutoff_order.issue", "shutoff_order.result", "charge.reconnection_fee"} <= actions


def test_a_card_payment_settled_by_webhook_at_night_makes_the_reconnection_order(app, client):
    with app.app_context():
        order = _shut_off(app)
        account = db.session.get(Account, order.account_id)
        short = record_payment(
            db.session,
            CLERK,
            account=account,
            amount_cents=order.amount_cents,  # the fee left unpaid
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        short.stripe_payment_intent_id = f"pi_test_{short.id}"
        db.session.commit()
        deliver(client, intent_event("payment_intent.succeeded", short, created=1_800_000_000))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconnectionOrder)) == 0
        rest = record_payment(
            db.session,
            CLERK,
            account=account,
            amount_cents=FEE,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        rest.stripe_payment_intent_id = f"pi_test_{rest.id}"
        db.session.commit()
        night = int(RESIDENT_NIGHT.timestamp())
        deliver(client, intent_event("payment_intent.succeeded", rest, created=night))
        reconnection = db.session.scalar(sa.select(ReconnectionOrder))
        assert reconnection.shutoff_order_id == order.id
        assert reconnection.paid_at == RESIDENT_NIGHT.astimezone(UTC)
        assert reconnection.number.startswith("RC-")
        # Still off until the crew turns it back on; then it says when.
        assert service_shut_off(db.session, order.account_id) is not None
        rows = list(
            csv.DictReader(io.StringIO(reconnections_csv(db.session, app.config, [reconnection])))
        )
        assert rows[0]["paid_at"] == "2027-01-08T02:30-06:00"
        reconnect(db.session, CLERK, reconnection.number, at=at(date(2027, 1, 8), 8, 15))
        db.session.commit()
        assert service_shut_off(db.session, order.account_id) is None
        with pytest.raises(FieldError, match="was already completed"):
            reconnect(db.session, CLERK, reconnection.number, at=at(date(2027, 1, 8), 9))


def test_a_lockbox_check_that_clears_the_amount_makes_the_reconnection_order(app):
    with app.app_context():
        order = _shut_off(app)
        account = db.session.get(Account, order.account_id)
        cents = _owed_to_reconnect(order)
        deposit = date(2027, 1, 8)
        data = bai([Check(cents, scan_line(account.number, cents, deposit), "2001")], deposit)
        import_file(
            db.session,
            CLERK,
            data,
            layout=load_layout("bai-lockbox"),
            filename="lockbox-2027-01-08.txt",
            today=deposit,
            accepted=FormerNumbers(today=deposit, days=365),
        )
        db.session.commit()
        reconnection = db.session.scalar(sa.select(ReconnectionOrder))
        assert reconnection is not None and reconnection.account_id == account.id
        payment = db.session.scalar(sa.select(Payment).where(Payment.account_id == account.id))
        assert payment.tender is Tender.CHECK


def test_paid_at_the_door_goes_through_the_counter_and_the_service_stays_on(app):
    one(app)
    with app.app_context():
        (order,) = hang_and_issue(app)
        drawer = open_drawer(db.session, CLERK)
        with pytest.raises(FieldError, match="drawer: a payment at the door"):
            enter_result(
                db.session,
                app.config,
                CLERK,
                order,
                Result(PAID_AT_DOOR, at(WORK_DAY, 10), amount_cents=order.amount_cents),
            )
        enter_result(
            db.session,
            app.config,
            CLERK,
            order,
            Result(
                PAID_AT_DOOR,
                at(WORK_DAY, 10),
                amount_cents=order.amount_cents,
                tender=Tender.CASH,
            ),
            drawer=drawer,
        )
        db.session.commit()
        payment = db.session.get(Payment, order.door_payment_id)
        assert payment.channel is Channel.COUNTER and payment.drawer_id == drawer.id
        assert payment.amount_cents == order.amount_cents
        assert gl_balance(db.session, chart.CASH_DRAWER) == order.amount_cents
        assert order.state is OrderState.NOT_SHUT_OFF
        assert order.not_done_reason is NotDoneReason.PAID_AT_DOOR
        assert (
            order.fee_charge_id is None and service_shut_off(db.session, order.account_id) is None
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconnectionOrder)) == 0


def test_the_chart_holds_the_reconnection_fees_revenue_account(ctx):
    account = db.session.scalar(
        sa.select(GLAccount).where(GLAccount.code == chart.RECONNECTION_FEES)
    )
    assert (account.code, account.name, account.type) == (
        "4540",
        "Reconnection fees",
        GLType.REVENUE,
    )
    assert account.active
