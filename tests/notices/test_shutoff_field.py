"""Utility shutoff in the field, against the database: the door hanger (48-hour notice) read
back from its PDF asks the position's past-due amount by the shutoff date; the work orders go
only to accounts the rules let be shut off that day; the crews' results and their refusals;
and a bad rule is refused naming the place."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa

from accounts.models import Account, Language
from billing.arrangements import PlanRequest, accept_plan, propose_plan
from billing.computed import RuleError
from billing.medical_certificates import record_certificate
from billing.models import DoorHanger, NotDoneReason, OrderState, ShutoffOrder
from billing.position import UTILITY, account_position
from billing.shutoff_rules import parse_shutoff_rule
from core.extensions import db
from core.models import AuditEvent
from core.money import format_cents
from notices.models import AppealChannel
from notices.shutoff_appeals import decide_appeal, file_appeal
from notices.shutoff_field import FieldError, hang_door_hangers, issue_work_orders, orders_on
from notices.shutoff_field_pdf import (
    ORDER_COLUMNS,
    hangers_csv,
    hangers_pdf,
    orders_csv,
    orders_pdf,
)
from notices.shutoff_field_results import (
    NOT_SHUT_OFF,
    SHUT_OFF,
    Result,
    enter_result,
    enter_sheet,
    find_order,
)
from tests.billing.plan_fixtures import add_rule
from tests.notices.field_fixtures import (
    CLERK,
    HANG_DAY,
    JOB,
    WORK_DAY,
    at,
    door_hangers_on,
    hang_and_issue,
    noticed_town,
    one,
    pdf_pages,
    pdf_text,
)


def _past_due(account_id: int, day: date) -> int:
    return account_position(db.session, account_id, day).past_due_cents(UTILITY)


# The door hanger.


def test_the_door_hanger_asks_the_positions_past_due_amount_by_the_shutoff_date(app, tmp_path):
    account_id = one(app)
    with app.app_context():
        early = hang_door_hangers(db.session, app.config, JOB, as_of=date(2027, 1, 4))
        assert early.done == 0  # the 7th is more than 48 hours away on the 4th
        first = hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        again = hang_door_hangers(db.session, app.config, JOB, as_of=date(2027, 1, 6))
        assert (first.done, again.done) == (1, 0)
        (hanger,) = door_hangers_on(db.session, HANG_DAY)
        past_due = _past_due(account_id, HANG_DAY)
        assert hanger.amount_cents == past_due and hanger.shutoff_on == WORK_DAY
        text = pdf_text(hangers_pdf(db.session, app.config, [hanger]), tmp_path)
        assert "48-hour notice: water service shutoff" in text
        assert (
            f"may be shut off on or after January 7, 2027 unless the past-due amount of "
            f"{format_cents(past_due)} is paid" in text
        )
        assert "1 Oak St" in text
        rows = list(csv.DictReader(io.StringIO(hangers_csv(db.session, [hanger]))))
        assert rows[0]["shutoff_on"] == "2027-01-07"
        assert rows[0]["amount"] == format_cents(past_due, symbol="").replace(",", "")
        assert db.session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.action == "door_hanger.issue")
        )


def test_door_hangers_come_one_a_page_by_route_in_each_accounts_language(app, tmp_path):
    noticed_town(
        app,
        [("olson", "1 Oak St", False, Language.EN), ("garcia", "1 Oak St", False, Language.ES)],
    )
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        hangers = door_hangers_on(db.session, HANG_DAY)
        pages = pdf_pages(hangers_pdf(db.session, app.config, hangers), tmp_path)
        assert len(pages) == 2
        spanish = next(page for page in pages if "Aviso de 48 horas" in page)
        assert "puede cortarse a partir del 7 de enero de 2027" in spanish


def test_an_account_that_paid_planned_or_has_a_medical_certificate_gets_no_hanger(app):
    ids = noticed_town(
        app,
        [
            ("medical", "1 Oak St", False, Language.EN),
            ("planned", "1 Oak St", False, Language.EN),
            ("eligible", "1 Oak St", False, Language.EN),
        ],
    )
    with app.app_context():
        medical, planned, _ = (db.session.get(Account, i) for i in ids)
        record_certificate(
            db.session,
            CLERK,
            medical,
            starts_on=date(2027, 1, 4),
            ends_on=date(2027, 2, 1),
            certified_by="Maple Falls Clinic",
        )
        add_rule(db.session)
        owed = account_position(db.session, planned.id, HANG_DAY).owed_cents()
        plan = propose_plan(
            db.session,
            CLERK,
            planned,
            PlanRequest(("utility",), owed // 5, 3),
            as_of=date(2027, 1, 4),
            via="clerk",
        )
        accept_plan(db.session, CLERK, plan, how="counter", on=date(2027, 1, 4), at=at(HANG_DAY, 9))
        db.session.commit()
        outcome = hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        assert (outcome.done, outcome.excluded) == (1, 2)
        assert "a medical certificate is on file" in outcome.reasons[str(medical.id)]
        assert "under a current payment plan" in outcome.reasons[str(planned.id)]
        assert [h.account_id for h in door_hangers_on(db.session, HANG_DAY)] == [ids[2]]


# The work orders.


def test_the_work_order_list_goes_by_route_with_address_meter_and_amount(app, tmp_path):
    account_id = one(app)
    with app.app_context():
        (order,) = hang_and_issue(app)
        assert order.number == "SO-2027-000001" and order.work_on == WORK_DAY
        assert order.amount_cents == _past_due(account_id, WORK_DAY)
        orders = orders_on(db.session, WORK_DAY)
        text = pdf_text(orders_pdf(db.session, WORK_DAY, orders), tmp_path)
        assert "Shutoff work orders for January 7, 2027" in text
        assert f"SO-2027-000001 {order.service_address}" in text
        assert format_cents(order.amount_cents) in text
        assert f"Meter {order.meter_id}" in text and "not shut off, why" in text
        rows = list(csv.reader(io.StringIO(orders_csv(db.session, orders))))
        assert tuple(rows[0]) == ORDER_COLUMNS
        assert rows[1][:4] == ["SO-2027-000001", "1", order.route, order.account.number]
        # Issued once per delinquency and attempt, whoever asks again.
        assert issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 8)).done == 0


def test_no_orders_before_the_hanger_date_nor_on_a_day_with_no_shutoffs(app):
    one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        assert issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 6)).done == 0
        with pytest.raises(FieldError, match="no shutoffs on 2027-01-09: Saturday"):
            issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 9))
        with pytest.raises(FieldError, match="Winter freeze"):
            issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 20))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffOrder)) == 0


def test_a_medical_certificate_after_the_hanger_means_no_order(app):
    account_id = one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        record_certificate(
            db.session,
            CLERK,
            db.session.get(Account, account_id),
            starts_on=date(2027, 1, 6),
            ends_on=date(2027, 3, 1),
            certified_by="Maple Falls Clinic",
        )
        db.session.commit()
        outcome = issue_work_orders(db.session, app.config, JOB, as_of=WORK_DAY)
        assert (outcome.done, outcome.excluded) == (0, 1)
        assert "medical certificate" in outcome.reasons[str(account_id)]


def test_an_order_whose_account_became_ineligible_is_cancelled_with_the_reason(app, tmp_path):
    account_id = one(app)
    with app.app_context():
        (order,) = hang_and_issue(app)
        record_certificate(
            db.session,
            CLERK,
            db.session.get(Account, account_id),
            starts_on=WORK_DAY,
            ends_on=date(2027, 3, 1),
            certified_by="Maple Falls Clinic",
        )
        db.session.commit()
        outcome = issue_work_orders(db.session, app.config, JOB, as_of=WORK_DAY)
        assert outcome.cancelled == 1
        db.session.refresh(order)
        assert order.state is OrderState.CANCELLED
        assert "medical certificate is on file until 2027-03-01" in order.note
        text = pdf_text(orders_pdf(db.session, WORK_DAY, orders_on(db.session, WORK_DAY)), tmp_path)
        assert "CANCELLED: a medical certificate is on file" in text
        with pytest.raises(FieldError, match="was cancelled: a medical certificate"):
            enter_result(db.session, app.config, CLERK, order, Result(SHUT_OFF, at(WORK_DAY, 10)))


# Results.


def test_results_for_orders_never_issued_or_entered_twice_are_refused(app):
    one(app)
    with app.app_context():
        (order,) = hang_and_issue(app)
        with pytest.raises(FieldError, match="order SO-2027-000099: no such shutoff order"):
            find_order(db.session, "SO-2027-000099")
        with pytest.raises(FieldError, match="reason: say why"):
            enter_result(
                db.session, app.config, CLERK, order, Result(NOT_SHUT_OFF, at(WORK_DAY, 10))
            )
        with pytest.raises(FieldError, match="note: say what happened"):
            enter_result(
                db.session,
                app.config,
                CLERK,
                order,
                Result(NOT_SHUT_OFF, at(WORK_DAY, 10), reason=NotDoneReason.OTHER),
            )
        enter_result(
            db.session,
            app.config,
            CLERK,
            order,
            Result(NOT_SHUT_OFF, at(WORK_DAY, 10), reason=NotDoneReason.DOG),
        )
        db.session.commit()
        with pytest.raises(FieldError, match="its result \\(not_shut_off\\) was already entered"):
            enter_result(db.session, app.config, CLERK, order, Result(SHUT_OFF, at(WORK_DAY, 11)))
        assert order.not_done_reason is NotDoneReason.DOG


def test_a_crews_sheet_is_entered_whole_or_not_at_all(app):
    noticed_town(
        app,
        [("one", "1 Oak St", False, Language.EN), ("two", "1 Oak St", False, Language.EN)],
    )
    with app.app_context():
        first, second = hang_and_issue(app)
        bad = (
            "order,result,time,meter_reading,reason,note\n"
            f"{first.number},shut_off,2027-01-07T09:30,1234,,\n"
            "SO-2027-000077,not_shut_off,2027-01-07T10:00,,dog,\n"
        )
        with pytest.raises(FieldError, match="row 3: order SO-2027-000077: no such shutoff"):
            enter_sheet(db.session, app.config, CLERK, bad)
        db.session.rollback()
        assert db.session.get(ShutoffOrder, first.id).state is OrderState.ISSUED
        good = (
            "order,result,time,meter_reading,reason,note\n"
            f"{first.number},shut_off,2027-01-07T09:30,1234,,\n"
            f"{second.number},not_shut_off,2027-01-07T10:00,,no_access,gate locked\n"
        )
        done = enter_sheet(db.session, app.config, CLERK, good)
        db.session.commit()
        assert [o.state for o in done] == [OrderState.SHUT_OFF, OrderState.NOT_SHUT_OFF]
        assert done[0].meter_reading == 1234 and done[1].note == "gate locked"


# The rule.


def test_a_rule_with_bad_field_terms_is_refused_naming_the_place():
    base = {
        "effective": "2026-01-01",
        "min_past_due": "10.00",
        "min_days_past_due": 30,
        "notice_lead_days": 7,
    }
    assert parse_shutoff_rule(base)["final_notice_hours"] == 48
    assert parse_shutoff_rule(base)["reconnection_fee_cents"] == 0
    with pytest.raises(RuleError, match="final_notice_hours: must not be negative"):
        parse_shutoff_rule(base | {"final_notice_hours": -1})
    with pytest.raises(RuleError, match="final_notice_hours: must be at most 240"):
        parse_shutoff_rule(base | {"final_notice_hours": 500})
    with pytest.raises(RuleError, match="reconnection_fee: write dollars as a quoted string"):
        parse_shutoff_rule(base | {"reconnection_fee": 35})
    with pytest.raises(RuleError, match="reconnection_fee: must not be negative"):
        parse_shutoff_rule(base | {"reconnection_fee": "-5.00"})


__all__ = ["DoorHanger"]


def test_a_denied_appeals_lead_time_holds_the_hanger_date_and_the_order(app):
    """Denied on the hanger's day (Tuesday January 5): no shutoff before five business days
    later (6, 7, 8, 11, 12), so the hanger names January 12 and no order comes before it."""
    account_id = one(app)
    with app.app_context():
        account = db.session.get(Account, account_id)
        moment = at(HANG_DAY, 9)
        appeal = file_appeal(
            db.session,
            CLERK,
            account,
            statement="I paid it",
            channel=AppealChannel.PHONE,
            at=moment,
            on=date(2026, 12, 29),
        )
        decide_appeal(
            db.session,
            CLERK,
            appeal,
            upheld=False,
            resident_reasons="The bill is owed.",
            at=moment,
            on=HANG_DAY,
        )
        db.session.commit()
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        hanger = db.session.scalar(sa.select(DoorHanger))
        assert hanger.shutoff_on == date(2027, 1, 12)
        for day in (WORK_DAY, date(2027, 1, 11)):
            assert issue_work_orders(db.session, app.config, JOB, as_of=day).done == 0
        assert issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 12)).done == 1


def _appeal_denied(account: Account, on: date) -> None:
    moment = at(on, 9)
    appeal = file_appeal(
        db.session,
        CLERK,
        account,
        statement="I paid it",
        channel=AppealChannel.PHONE,
        at=moment,
        on=on,
    )
    decide_appeal(
        db.session, CLERK, appeal, upheld=False, resident_reasons="It is owed.", at=moment, on=on
    )
    db.session.commit()


def test_an_appeal_denied_after_the_hanger_holds_the_order_until_its_lead_time(app):
    """Hung on January 5 for the 7th, then appealed and denied on the 6th: no shutoff before
    five business days later (7, 8, 11, 12, 13); the order waits, saying why."""
    account_id = one(app)
    with app.app_context():
        hang_door_hangers(db.session, app.config, JOB, as_of=HANG_DAY)
        _appeal_denied(db.session.get(Account, account_id), date(2027, 1, 6))
        for day in (WORK_DAY, date(2027, 1, 12)):
            outcome = issue_work_orders(db.session, app.config, JOB, as_of=day)
            assert outcome.done == 0
            assert "no shutoff before 2027-01-13" in outcome.reasons[str(account_id)]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffOrder)) == 0
        assert issue_work_orders(db.session, app.config, JOB, as_of=date(2027, 1, 13)).done == 1
