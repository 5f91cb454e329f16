"""A resident asks for a payment plan on the portal within the town's rules, reads the
agreement in English or Spanish, accepts it online, and the bill page shows the installment."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pypdf
import pytest
import time_machine

from billing.models import PaymentPlan, PlanStatus
from core.extensions import db
from core.money import format_cents
from tests.billing.plan_fixtures import add_rule
from tests.conftest import csrf_token

#: November 30, 2026 in the town: a week after the bills' due date.
NOON = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.fixture
def late(app):
    with app.app_context():
        add_rule(db.session)
        db.session.commit()
    with time_machine.travel(NOON, tick=False):
        yield


def _ask(client, down: str, installments: str = "3", **extra):
    page = client.get("/my/plan").text
    data = {
        "csrf_token": csrf_token(page),
        "group_utility": "1",
        "down_payment": down,
        "installments": installments,
        **extra,
    }
    return client.post("/my/plan", data=data)


def _text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_past_due_bill_offers_a_plan_within_the_rule(late, resident, billed):
    assert "Ask for a payment plan" in resident.get("/my/bill").text
    page = resident.get("/my/plan").text
    least = format_cents(billed.owed_cents // 10 + (1 if billed.owed_cents % 10 >= 5 else 0))
    assert f"At least {least}" in page
    assert '<option value="6">6</option>' in page and '<option value="7">' not in page


def test_a_down_payment_below_the_minimum_is_refused_with_the_reason(late, app, resident):
    answer = _ask(resident, "0.01")
    assert answer.status_code == 422
    assert "The down payment must be at least" in answer.text
    with app.app_context():
        assert db.session.query(PaymentPlan).count() == 0


def test_more_installments_than_the_rule_allows_are_refused(late, resident, billed):
    answer = _ask(resident, format_cents(billed.owed_cents // 2)[1:], installments="7")
    assert answer.status_code == 422
    assert "at most 6 installments" in answer.text


def test_the_resident_accepts_the_agreement_and_the_plan_becomes_current(
    late, app, resident, billed
):
    down = billed.owed_cents // 4
    answer = _ask(resident, format_cents(down)[1:].replace(",", ""))
    assert answer.status_code == 303
    page = resident.get("/my/plan").text
    assert "Accept the agreement" in page
    with app.app_context():
        plan = db.session.query(PaymentPlan).one()
        assert plan.status == PlanStatus.PROPOSED and plan.requested_via == "resident"
        plan_id = plan.id
    english = _text(resident.get(f"/my/plan/{plan_id}/agreement.pdf?lang=en").data)
    spanish = _text(resident.get(f"/my/plan/{plan_id}/agreement.pdf?lang=es").data)
    assert "Payment plan agreement" in english and billed.number in english
    assert format_cents(down) in english and "Signature of the account holder" in english
    assert "Acuerdo de plan de pagos" in spanish and "Pago inicial" in spanish
    # not ticked: refused, still proposed
    refused = resident.post("/my/plan/accept", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 422
    accepted = resident.post(
        "/my/plan/accept", data={"csrf_token": csrf_token(page), "agree": "yes"}
    )
    assert accepted.status_code == 303
    with app.app_context():
        plan = db.session.get(PaymentPlan, plan_id)
        assert plan.status == PlanStatus.CURRENT
        assert (plan.accepted_on, plan.accepted_how) == (date(2026, 11, 30), "online")
    assert "Accepted online" in _text(resident.get(f"/my/plan/{plan_id}/agreement.pdf").data)
    bill = resident.get("/my/bill").text
    assert f"Your payment plan: {format_cents(down)} is due now." in bill
    # a second request on the same account is refused
    again = resident.post(
        "/my/plan",
        data={
            "csrf_token": csrf_token(page),
            "group_utility": "1",
            "down_payment": "50.00",
            "installments": "2",
        },
    )
    assert again.status_code == 422 and "already has a payment plan" in again.text


def test_another_accounts_agreement_is_not_found(late, app, client, households):
    from tests.portal.conftest import quick_pay

    quick_pay(client, households[0].number, households[0].access_code)
    _ask(client, format_cents(households[0].owed_cents // 2)[1:].replace(",", ""))
    with app.app_context():
        plan_id = db.session.query(PaymentPlan).one().id
    client.post("/my/signout", data={"csrf_token": csrf_token(client.get("/my/bill").text)})
    quick_pay(client, households[1].number, households[1].access_code)
    assert client.get(f"/my/plan/{plan_id}/agreement.pdf").status_code == 404


def test_a_refusal_reads_in_spanish_on_the_spanish_page(late, resident):
    page = resident.get("/my/plan").text
    resident.post("/language", data={"csrf_token": csrf_token(page), "lang": "es", "next": ""})
    assert "Solicitar un plan de pagos" in resident.get("/my/plan").text
    answer = _ask(resident, "0.01")
    assert answer.status_code == 422
    assert "El pago inicial debe ser de al menos" in answer.text
