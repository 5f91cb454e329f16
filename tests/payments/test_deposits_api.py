"""Bank deposits through the API and the CLI: the same rules as the services, every step audited,
every refusal named and harmless."""

from __future__ import annotations

import io

import sqlalchemy as sa
from pypdf import PdfReader

from accounts.models import Account
from core.extensions import db
from core.models import AuditEvent
from ledger import chart
from ledger.balances import gl_balance
from payments.models import BankDeposit
from tests.payments.test_webhooks import _town

TOTAL = 10784
FLOAT = 5000


def _drawer_closed(client, app, headers, *, cash_short=0) -> dict:
    """A drawer with a $50 float that took the bill by check 1042, closed; its JSON."""
    (account_id,) = _town(app)
    with app.app_context():
        number = db.session.get(Account, account_id).number
    drawer = client.post(
        "/api/v1/drawers", json={"opening_float_cents": FLOAT}, headers=headers
    ).get_json()
    taken = client.post(
        f"/api/v1/drawers/{drawer['id']}/payments",
        json={
            "account_number": number,
            "amount_cents": TOTAL,
            "tender": "check",
            "reference": "1042",
        },
        headers=headers,
    )
    assert taken.status_code == 201
    body = {"counted_cents": {"cash": FLOAT - cash_short, "check": TOTAL}}
    closed = client.post(f"/api/v1/drawers/{drawer['id']}/close", json=body, headers=headers)
    assert closed.status_code == 200, closed.get_json()
    return closed.get_json()


def _actions(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_a_clerk_deposits_a_closed_drawer_prints_its_slip_and_marks_it_at_the_bank(
    app, client, api_headers
):
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    drawer = _drawer_closed(client, app, clerk)
    assert drawer["over_short_cents"] == 0 and drawer["deposit_cents"] == TOTAL
    waiting = client.get("/api/v1/bank-deposits/drawers", headers=auditor).get_json()
    assert [d["id"] for d in waiting] == [drawer["id"]]
    refused = client.post(
        "/api/v1/bank-deposits", json={"drawer_ids": [drawer["id"]]}, headers=auditor
    )
    assert refused.status_code == 403
    made = client.post("/api/v1/bank-deposits", json={"drawer_ids": [drawer["id"]]}, headers=clerk)
    assert made.status_code == 201
    deposit = made.get_json()
    assert (deposit["amount_cents"], deposit["status"]) == (TOTAL, "in_transit")
    again = client.post("/api/v1/bank-deposits", json={"drawer_ids": [drawer["id"]]}, headers=clerk)
    assert again.status_code == 422
    assert "already in a deposit" in again.get_json()["errors"]["drawers"][0]
    assert client.get("/api/v1/bank-deposits/drawers", headers=auditor).get_json() == []
    slip = client.get(f"/api/v1/bank-deposits/{deposit['number']}/slip", headers=auditor)
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages)
    assert "Check 1042" in text and "$107.84" in text and deposit["number"] in text
    early = client.post(
        f"/api/v1/bank-deposits/{deposit['number']}/at-bank",
        json={"reached_on": "2020-01-01"},
        headers=clerk,
    )
    assert early.status_code == 422
    with app.app_context():
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == TOTAL
    banked = client.post(
        f"/api/v1/bank-deposits/{deposit['number']}/at-bank",
        json={"reached_on": deposit["made_on"]},
        headers=clerk,
    )
    assert banked.status_code == 200 and banked.get_json()["status"] == "at_bank"
    twice = client.post(
        f"/api/v1/bank-deposits/{deposit['number']}/at-bank",
        json={"reached_on": deposit["made_on"]},
        headers=clerk,
    )
    assert twice.status_code == 422
    with app.app_context():
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == 0
        assert gl_balance(db.session, chart.CASH_DRAWER) == 0
    actions = _actions(app)
    for action in (
        "drawer.close",
        "bank_deposit.make",
        "bank_deposit.slip",
        "bank_deposit.at_bank",
    ):
        assert action in actions
    assert client.get("/api/v1/bank-deposits/BD-1999-000001", headers=auditor).status_code == 404


def test_a_large_short_waits_for_a_supervisor_other_than_the_clerk(app, client, api_headers):
    clerk, supervisor = api_headers("clerk"), api_headers("supervisor")
    drawer = _drawer_closed(client, app, clerk, cash_short=2500)
    assert drawer["awaiting_approval"] and drawer["over_short_cents"] == -2500
    made = client.post("/api/v1/bank-deposits", json={"drawer_ids": [drawer["id"]]}, headers=clerk)
    assert made.status_code == 422 and "supervisor" in made.get_json()["errors"]["drawers"][0]
    path = f"/api/v1/drawers/{drawer['id']}/approve-over-short"
    assert client.post(path, headers=clerk).status_code == 403
    with app.app_context():
        assert gl_balance(db.session, chart.CASH_OVER_SHORT) == 0
    approved = client.post(path, headers=supervisor)
    assert approved.status_code == 200 and not approved.get_json()["awaiting_approval"]
    with app.app_context():
        assert gl_balance(db.session, chart.CASH_OVER_SHORT) == 2500
    made = client.post("/api/v1/bank-deposits", json={"drawer_ids": [drawer["id"]]}, headers=clerk)
    # the cash is $25.00 short of the float: the check alone goes to the bank
    assert made.status_code == 201 and made.get_json()["amount_cents"] == TOTAL
    with app.app_context():
        assert gl_balance(db.session, chart.CASH_DRAWER) == -2500
    assert "drawer.over_short_approved" in _actions(app)


def test_unknown_drawers_and_bad_bodies_are_refused_by_name(app, client, api_headers):
    clerk = api_headers("clerk")
    for body, field in [
        ({"drawer_ids": [999]}, "drawer_ids"),
        ({"drawer_ids": []}, "drawer_ids"),
        ({"drawer_ids": ["1"]}, "drawer_ids"),
        ({}, "drawer_ids"),
    ]:
        answer = client.post("/api/v1/bank-deposits", json=body, headers=clerk)
        assert answer.status_code == 422 and field in str(answer.get_json()), body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BankDeposit)) == 0


def test_the_cli_deposits_a_drawer_writes_its_slip_and_marks_it_at_the_bank(
    app, client, api_headers, runner, tmp_path
):
    drawer = _drawer_closed(client, app, api_headers("clerk"))
    made = runner.invoke(
        args=["payments", "deposit", "--drawer", str(drawer["id"]), "--by", "clerk@example.org"]
    )
    assert made.exit_code == 0, made.output
    number = made.output.split(":")[0].strip()
    again = runner.invoke(
        args=["payments", "deposit", "--drawer", str(drawer["id"]), "--by", "clerk@example.org"]
    )
    assert again.exit_code != 0 and "already in a deposit" in again.output
    out = tmp_path / "slip.pdf"
    written = runner.invoke(args=["notices", "deposit-slip", number, "--out", str(out)])
    assert written.exit_code == 0, written.output
    text = "\n".join(p.extract_text() for p in PdfReader(out).pages)
    assert "Check 1042" in text and "Total deposit" in text
    with app.app_context():
        made_on = db.session.scalar(sa.select(BankDeposit.made_on))
    banked = runner.invoke(
        args=["payments", "deposit-at-bank", number, "--on", made_on.isoformat(), "--by", "x@y.org"]
    )
    assert banked.exit_code == 0, banked.output
    listed = runner.invoke(args=["payments", "deposits"])
    assert number in listed.output and "at_bank" in listed.output
    with app.app_context():
        assert gl_balance(db.session, chart.BANK) >= TOTAL
        assert gl_balance(db.session, chart.DEPOSITS_IN_TRANSIT) == 0
