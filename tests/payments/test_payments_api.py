"""The payments API: counter payments, drawers, refunds and voids; every refusal named and harmless."""

import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from payments.models import Payment
from tests.payments.test_webhooks import _town

TOTAL = 10784


def _number(app, account_id):
    with app.app_context():
        return db.session.get(Account, account_id).number


def test_a_clerk_takes_a_check_and_closes_the_drawer(app, client, api_headers):
    (account_id,) = _town(app)
    clerk = api_headers("clerk")
    drawer = client.post(
        "/api/v1/drawers", json={"opening_float_cents": 5000}, headers=clerk
    ).get_json()
    body = {
        "account_number": _number(app, account_id),
        "amount_cents": TOTAL,
        "tender": "check",
        "reference": "1042",
    }
    receipt = client.post(f"/api/v1/drawers/{drawer['id']}/payments", json=body, headers=clerk)
    assert receipt.status_code == 201 and receipt.get_json()["balance_after_cents"] == 0
    listed = client.get(
        f"/api/v1/accounts/{body['account_number']}/receipts", headers=api_headers("auditor")
    )
    assert [r["number"] for r in listed.get_json()] == [receipt.get_json()["number"]]
    closed = client.post(
        f"/api/v1/drawers/{drawer['id']}/close",
        json={"counted_cents": {"cash": 5000, "check": TOTAL}},
        headers=clerk,
    ).get_json()
    assert closed["close_out"]["difference_cents"] == {"cash": 0, "check": 0, "money_order": 0}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -100}, "amount_cents"),
        ({"amount_cents": TOTAL + 1}, "amount_cents"),
        ({"amount_cents": "12.50"}, "amount_cents"),
        ({"tender": "card"}, "tender"),
        ({"tender": "check"}, "reference"),
        ({"invoice_numbers": ["2026-999999"]}, "invoices"),
    ],
)
def test_bad_counter_payments_are_refused_by_field_and_change_nothing(
    app, client, api_headers, change, field
):
    (account_id,) = _town(app)
    clerk = api_headers("clerk")
    drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
    body = {
        "account_number": _number(app, account_id),
        "amount_cents": 1000,
        "tender": "cash",
        **change,
    }
    response = client.post(f"/api/v1/drawers/{drawer['id']}/payments", json=body, headers=clerk)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
        assert db.session.scalar(sa.select(Invoice.status)) == InvoiceStatus.OPEN


def test_only_a_supervisor_refunds_or_voids(app, client, api_headers):
    (account_id,) = _town(app)
    clerk = api_headers("clerk")
    drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
    body = {"account_number": _number(app, account_id), "amount_cents": 5000, "tender": "cash"}
    client.post(f"/api/v1/drawers/{drawer['id']}/payments", json=body, headers=clerk)
    with app.app_context():
        payment_id = db.session.scalar(sa.select(Payment.id))
    refund = {"amount_cents": 1000, "reason": "overcharged"}
    assert (
        client.post(
            f"/api/v1/payments/{payment_id}/refunds", json=refund, headers=clerk
        ).status_code
        == 403
    )
    supervisor = api_headers("supervisor")
    too_much = client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        json={**refund, "amount_cents": 5001},
        headers=supervisor,
    )
    assert too_much.status_code == 422 and "amount_cents" in too_much.get_json()["errors"]
    assert (
        client.post(
            f"/api/v1/payments/{payment_id}/refunds", json=refund, headers=supervisor
        ).status_code
        == 201
    )
    voided = client.post(
        f"/api/v1/payments/{payment_id}/void",
        json={"reason": "keyed on the wrong account"},
        headers=supervisor,
    )
    assert voided.status_code == 422  # part of it was refunded already
    assert (
        client.get(f"/api/v1/payments/{payment_id}", headers=api_headers("auditor")).get_json()[
            "status"
        ]
        == "succeeded"
    )


def test_a_counter_payment_kept_is_answered_even_if_the_database_goes_away_after_the_commit(
    app, client, api_headers, monkeypatch
):
    (account_id,) = _town(app)
    clerk = api_headers("clerk")
    drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
    body = {"account_number": _number(app, account_id), "amount_cents": 2500, "tender": "cash"}
    with app.app_context():
        engine = db.engine
    committed = []

    def after_commit(_connection):
        committed.append(True)

    def lost(*_args, **_kwargs):
        if committed:
            raise sa.exc.OperationalError("SELECT", {}, ConnectionResetError("connection lost"))

    sa.event.listen(engine, "commit", after_commit)
    sa.event.listen(engine, "before_cursor_execute", lost)
    try:
        answer = client.post(f"/api/v1/drawers/{drawer['id']}/payments", json=body, headers=clerk)
    finally:
        sa.event.remove(engine, "before_cursor_execute", lost)
        sa.event.remove(engine, "commit", after_commit)
    # the clerk is told what the drawer now holds, so the payment is not taken a second time
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["amount_cents"] == 2500
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_a_payment_not_settled_yet_is_refused_a_refund_saying_so(app, client, api_headers):
    from tests.payments.test_webhooks import _payment

    (account_id,) = _town(app)
    payment_id = _payment(app, account_id)  # a card payment Stripe has not told us about yet
    refused = client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        json={"amount_cents": 1000, "reason": "paid twice"},
        headers=api_headers("supervisor"),
    )
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"payment": ["this payment has not settled yet"]}
