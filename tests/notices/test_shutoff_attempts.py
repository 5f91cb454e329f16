"""A second attempt, against the database: when the crew could not shut off (no access, a dog,
out of time, a medical emergency, other; not a payment at the door), the next day's issue makes
a new order for the same delinquency if the account still may be shut off — one row per
attempt, numbered, audited, shown as "attempt 2" on the crew's list and in the CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from billing.medical_certificates import record_certificate
from billing.models import DoorHanger, NotDoneReason, OrderState, ShutoffOrder
from core.extensions import db
from core.models import AuditEvent
from notices.shutoff_field import (
    FieldError,
    issue_work_order,
    issue_work_orders,
    orders_on,
)
from notices.shutoff_field_pdf import ORDER_COLUMNS, orders_csv, orders_pdf
from notices.shutoff_field_results import NOT_SHUT_OFF, PAID_AT_DOOR, Result, enter_result
from payments.counter import open_drawer
from payments.models import Tender
from tests.notices.field_fixtures import (
    CLERK,
    JOB,
    WORK_DAY,
    at,
    hang_and_issue,
    one,
    pdf_text,
)

NEXT_DAY = date(2027, 1, 8)  # Friday


def _not_done(app, order: ShutoffOrder, reason: NotDoneReason, note: str | None = None) -> None:
    enter_result(
        db.session,
        app.config,
        CLERK,
        order,
        Result(NOT_SHUT_OFF, at(WORK_DAY, 11), reason=reason, note=note),
    )
    db.session.commit()


def _orders() -> list[ShutoffOrder]:
    return list(db.session.scalars(sa.select(ShutoffOrder).order_by(ShutoffOrder.id)))


@pytest.mark.parametrize(
    "reason",
    [
        NotDoneReason.NO_ACCESS,
        NotDoneReason.DOG,
        NotDoneReason.OUT_OF_TIME,
        NotDoneReason.MEDICAL_EMERGENCY,
        NotDoneReason.OTHER,
    ],
)
def test_a_crew_that_could_not_shut_off_gets_a_second_attempt_the_next_day(app, reason):
    one(app)
    with app.app_context():
        (first,) = hang_and_issue(app)
        _not_done(app, first, reason, note="gate locked")
        # Not the same day: the next day's issue.
        assert issue_work_orders(db.session, app.config, JOB, as_of=WORK_DAY).done == 0
        assert issue_work_orders(db.session, app.config, JOB, as_of=NEXT_DAY).done == 1
        first_again, second = _orders()
        assert first_again.id == first.id and first.state is OrderState.NOT_SHUT_OFF
        assert (second.invoice_id, second.attempt, second.work_on) == (
            first.invoice_id,
            2,
            NEXT_DAY,
        )
        assert second.number == "SO-2027-000002" and second.state is OrderState.ISSUED
        event = db.session.scalar(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "shutoff_order.issue")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        assert event.summary["attempt"] == 2 and event.summary["after"] == first.number
        # Asked again the same day: still one attempt 2.
        assert issue_work_orders(db.session, app.config, JOB, as_of=NEXT_DAY).done == 0


def test_the_second_attempt_is_shown_on_the_crews_list_and_in_the_csv(app, tmp_path):
    one(app)
    with app.app_context():
        (first,) = hang_and_issue(app)
        _not_done(app, first, NotDoneReason.NO_ACCESS)
        issue_work_orders(db.session, app.config, JOB, as_of=NEXT_DAY)
        orders = orders_on(db.session, NEXT_DAY)
        (second,) = orders
        text = pdf_text(orders_pdf(db.session, NEXT_DAY, orders), tmp_path)
        assert f"{second.number} (attempt 2) {second.service_address}" in text
        rows = list(csv.DictReader(io.StringIO(orders_csv(db.session, orders))))
        assert tuple(rows[0]) == ORDER_COLUMNS and "attempt" in ORDER_COLUMNS
        assert (rows[0]["order"], rows[0]["attempt"]) == (second.number, "2")
        first_rows = list(csv.DictReader(io.StringIO(orders_csv(db.session, [first]))))
        assert first_rows[0]["attempt"] == "1"


def test_paid_at_the_door_gets_no_second_attempt(app):
    one(app)
    with app.app_context():
        (first,) = hang_and_issue(app)
        drawer = open_drawer(db.session, CLERK)
        enter_result(
            db.session,
            app.config,
            CLERK,
            first,
            Result(
                PAID_AT_DOOR, at(WORK_DAY, 10), amount_cents=first.amount_cents, tender=Tender.CASH
            ),
            drawer=drawer,
        )
        db.session.commit()
        assert issue_work_orders(db.session, app.config, JOB, as_of=NEXT_DAY).done == 0
        assert len(_orders()) == 1


def test_an_account_no_longer_eligible_gets_no_second_attempt(app):
    account_id = one(app)
    with app.app_context():
        (first,) = hang_and_issue(app)
        _not_done(app, first, NotDoneReason.MEDICAL_EMERGENCY)
        record_certificate(
            db.session,
            CLERK,
            first.account,
            starts_on=WORK_DAY,
            ends_on=date(2027, 3, 1),
            certified_by="Maple Falls Clinic",
        )
        db.session.commit()
        outcome = issue_work_orders(db.session, app.config, JOB, as_of=NEXT_DAY)
        assert (outcome.done, outcome.excluded) == (0, 1)
        assert "medical certificate" in outcome.reasons[str(account_id)]
        assert len(_orders()) == 1


def test_an_open_or_shut_off_order_blocks_another_attempt(app):
    one(app)
    with app.app_context():
        (first,) = hang_and_issue(app)
        hanger = db.session.scalar(sa.select(DoorHanger))
        with pytest.raises(FieldError, match="was already issued for this delinquency"):
            issue_work_order(db.session, app.config, JOB, hanger, NEXT_DAY)
        _not_done(app, first, NotDoneReason.DOG)
        with pytest.raises(FieldError, match="a new attempt from the next day"):
            issue_work_order(db.session, app.config, JOB, hanger, WORK_DAY)
        second = issue_work_order(db.session, app.config, JOB, hanger, NEXT_DAY)
        db.session.commit()
        assert second.attempt == 2


def test_one_row_per_attempt_is_kept_by_the_unique_key(app):
    one(app)
    with app.app_context():
        (first,) = hang_and_issue(app)
        twin = ShutoffOrder(
            number="SO-2027-000900",
            account_id=first.account_id,
            invoice_id=first.invoice_id,
            work_on=NEXT_DAY,
            route=first.route,
            service_address=first.service_address,
            amount_cents=first.amount_cents,
            issued_by="test",
            attempt=1,
        )
        db.session.add(twin)
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
