"""The clerks' payment plans page: a clerk makes a plan within the rule (refused with the
reason otherwise), records the signature at the counter, cancels one; plans are listed by
status; the rule is edited as data; the dashboard shows the balance under plan; auditors read."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from billing.models import PaymentPlan, PlanRule, PlanStatus
from core.extensions import db
from core.money import format_cents
from tests.billing.billing_fixtures import bill_households
from tests.billing.plan_fixtures import add_rule
from tests.conftest import csrf_token

NOON = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.fixture
def town(app):
    households = bill_households(app, "olson", "nguyen")
    with app.app_context():
        add_rule(db.session)
        db.session.commit()
    with time_machine.travel(NOON, tick=False):
        yield households


def _post(client, path: str, **data):
    page = client.get("/staff/plans/").text
    return client.post(path, data={"csrf_token": csrf_token(page), **data})


def _dollars(cents: int) -> str:
    return format_cents(cents, symbol="").replace(",", "")


def _make(client, billed, **fields):
    data = {
        "account": billed.number,
        "group_utility": "1",
        "down_payment": _dollars(billed.owed_cents // 4),
        "installments": "3",
    }
    return _post(client, "/staff/plans/", **(data | fields))


def test_a_clerk_makes_a_plan_the_resident_signs_it_and_the_dashboard_counts_it(
    app, town, signed_in
):
    clerk = signed_in("clerk")
    assert _make(clerk, town[0]).status_code == 303
    proposed = clerk.get("/staff/plans/?status=proposed").text
    assert town[0].number in proposed and "Signed at the counter" in proposed
    with app.app_context():
        plan = db.session.scalar(sa.select(PaymentPlan))
        plan_id, included, down = plan.id, plan.included_cents, plan.down_payment_cents
    pdf = clerk.get(f"/staff/plans/{plan_id}/agreement.pdf?lang=es").data
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Firma del titular de la cuenta" in text and town[0].number in text
    assert _post(clerk, f"/staff/plans/{plan_id}/signed").status_code == 303
    with app.app_context():
        plan = db.session.get(PaymentPlan, plan_id)
        assert (plan.status, plan.accepted_how) == (PlanStatus.CURRENT, "counter")
    current = clerk.get("/staff/plans/?status=current").text
    account_page = clerk.get(f"/staff/accounts/{town[0].number}").text
    assert f"{format_cents(included)} included, $0.00 paid" in account_page
    assert f"{format_cents(down)} due now" in account_page
    assert town[0].number in current
    assert town[0].number not in clerk.get("/staff/plans/?status=proposed").text
    dashboard = clerk.get("/staff/dashboard?as_of=2026-11-30").text
    assert f"{format_cents(included)} in 1 current plan, {format_cents(down)} of it due now" in (
        dashboard
    )


def test_installments_that_do_not_add_up_are_refused_with_the_reason(app, town, signed_in):
    clerk = signed_in("clerk")
    answer = _make(clerk, town[0], installments="", amounts="10.00, 10.00")
    assert answer.status_code == 422
    assert "not the included balance of" in answer.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentPlan)) == 0


def test_a_clerks_own_amounts_that_add_up_make_the_plan(app, town, signed_in):
    clerk = signed_in("clerk")
    down = town[0].owed_cents // 4
    rest = town[0].owed_cents - down
    first = rest // 3
    amounts = f"{_dollars(first)}, {_dollars(rest - first)}"
    assert _make(clerk, town[0], installments="", amounts=amounts).status_code == 303
    with app.app_context():
        plan = db.session.scalar(sa.select(PaymentPlan))
        assert [i.amount_cents for i in plan.installments] == [down, first, rest - first]


def test_a_second_plan_and_an_excluded_class_are_refused(app, town, signed_in):
    clerk = signed_in("clerk")
    assert _make(clerk, town[0]).status_code == 303
    again = _make(clerk, town[0])
    assert again.status_code == 422 and "already has a payment plan" in again.text
    taxed = _make(clerk, town[1], group_tax="1")
    assert taxed.status_code == 422 and "do not allow property tax" in taxed.text


def test_a_cancelled_plan_needs_a_reason_and_ends_the_pause(app, town, signed_in):
    clerk = signed_in("clerk")
    _make(clerk, town[0])
    with app.app_context():
        plan_id = db.session.scalar(sa.select(PaymentPlan.id))
    assert _post(clerk, f"/staff/plans/{plan_id}/cancel", reason="").status_code == 422
    assert _post(clerk, f"/staff/plans/{plan_id}/cancel", reason="moved").status_code == 303
    with app.app_context():
        plan = db.session.get(PaymentPlan, plan_id)
        assert plan.status == PlanStatus.CANCELLED and plan.ended_on is not None


def test_the_rule_is_edited_as_data_and_a_bad_one_is_refused(app, town, signed_in):
    clerk = signed_in("clerk")
    good = {
        "effective": "2026-12-01",
        "rule_utility": "1",
        "min_down_percent": "25",
        "min_down_amount": "50.00",
        "max_installments": "12",
        "grace_days": "5",
        "pause_penalties": "1",
    }
    assert _post(clerk, "/staff/plans/rule", **good).status_code == 303
    bad = _post(clerk, "/staff/plans/rule", **(good | {"max_installments": "0"}))
    assert bad.status_code == 422 and "max_installments" in bad.text
    with app.app_context():
        newest = db.session.scalar(sa.select(PlanRule).order_by(PlanRule.id.desc()))
        assert (newest.max_installments, newest.grace_days) == (12, 5)
        assert newest.pause_penalties and not newest.pause_reminders
        assert newest.min_down_cents == 5000
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanRule)) == 2


def test_an_auditor_reads_plans_and_changes_none(app, town, signed_in):
    auditor = signed_in("auditor")
    page = auditor.get("/staff/plans/")
    assert page.status_code == 200 and "Make a plan" not in page.text
    assert _make(auditor, town[0]).status_code == 403
