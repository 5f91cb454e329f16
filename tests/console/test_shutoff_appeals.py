"""The staff's shutoff appeals page: a clerk records an appeal made by phone; the supervisors'
queue shows it; a clerk without the approve permission cannot decide; a supervisor decides with
reasons (required) and an internal note, once; every step is audited; the decision letter is
e-mailed and printable; a clerk records "tenant becomes customer"."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from accounts.models import Account
from accounts.services import find_account
from core.extensions import db
from core.models import AuditEvent
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal, TenantNotice
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, sign_in
from tests.notices.test_tenant_protections import _locate
from tests.portal.test_shutoff_appeal import NOON, notice_households


@pytest.fixture
def households(app):
    return bill_households(app, "olson", "nguyen")


@pytest.fixture
def town(app, households):
    notice_households(app, households)
    with time_machine.travel(NOON, tick=False):
        yield households


def _client(app, make_staff, role: str):
    client = app.test_client()
    assert sign_in(client, make_staff(role)).status_code == 302
    return client


def _post(client, path: str, **data):
    page = client.get("/staff/appeals/").text
    return client.post(path, data={"csrf_token": csrf_token(page), **data})


def _appeal(app) -> ShutoffAppeal:
    with app.app_context():
        return db.session.scalar(sa.select(ShutoffAppeal))


def _phone(client, number: str, statement: str = "Called: paid at the bank on Dec 20"):
    return _post(client, "/staff/appeals/phone", account=number, statement=statement)


def test_a_clerk_records_a_phone_appeal_and_it_waits_in_the_queue(app, town, make_staff):
    clerk = _client(app, make_staff, "clerk")
    answer = _phone(clerk, town[0].number)
    assert answer.status_code == 303
    page = clerk.get("/staff/appeals/").text
    assert "Pending (1)" in page and "paid at the bank on Dec 20" in page
    assert "A supervisor decides appeals." in page  # a clerk sees no decision form
    appeal = _appeal(app)
    assert (appeal.channel, appeal.filed_by) == (AppealChannel.PHONE, "clerk")
    again = _phone(clerk, town[0].number, "again")
    assert again.status_code == 422 and "has an appeal pending since 2026-12-29" in again.text
    empty = _phone(clerk, town[1].number, " ")
    assert empty.status_code == 422
    unknown = _phone(clerk, "99999999")
    assert unknown.status_code == 422 and "no account 99999999" in unknown.text


def test_a_clerk_without_approve_cannot_decide(app, town, make_staff):
    clerk = _client(app, make_staff, "clerk")
    _phone(clerk, town[0].number)
    appeal = _appeal(app)
    answer = _post(
        clerk, f"/staff/appeals/{appeal.id}/decide", decision="upheld", reasons="ok", note=""
    )
    assert answer.status_code == 403
    assert _appeal(app).status == AppealStatus.PENDING


def test_a_supervisor_decides_once_with_reasons_and_it_is_audited(app, town, make_staff):
    clerk = _client(app, make_staff, "clerk")
    _phone(clerk, town[0].number)
    appeal = _appeal(app)
    boss = _client(app, make_staff, "supervisor")
    path = f"/staff/appeals/{appeal.id}/decide"
    assert "Reasons for the resident" in boss.get("/staff/appeals/").text
    no_reasons = _post(boss, path, decision="denied", reasons=" ", note="x")
    assert no_reasons.status_code == 422 and "reasons for the resident: required" in no_reasons.text
    no_choice = _post(boss, path, reasons="x")
    assert no_choice.status_code == 422 and "choose upheld or denied" in no_choice.text
    assert _appeal(app).status == AppealStatus.PENDING
    answer = _post(
        boss,
        path,
        decision="denied",
        reasons="The bank shows no payment on that day.",
        note="Bank file checked, nothing.",
    )
    assert answer.status_code == 303
    assert "denied; the decision letter is e-mailed" in boss.get("/staff/appeals/").text
    twice = _post(boss, path, decision="upheld", reasons="changed my mind")
    assert twice.status_code == 422 and "was already denied" in twice.text
    decided = _appeal(app)
    assert decided.status == AppealStatus.DENIED and decided.internal_note.startswith("Bank")
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.action.like("shutoff_appeal.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["shutoff_appeal.file", "shutoff_appeal.decide"]
    letter = boss.get(f"/staff/appeals/{appeal.id}/letter.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(letter.data)).pages)
    text = re.sub(r"\s+", " ", text)
    assert "The bank shows no payment on that day." in text
    assert "Bank file checked" not in text


def test_an_auditor_reads_but_cannot_record(app, town, make_staff):
    auditor = _client(app, make_staff, "auditor")
    assert auditor.get("/staff/appeals/").status_code == 200
    assert _phone(auditor, town[0].number).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffAppeal)) == 0


def test_a_clerk_records_that_a_tenant_becomes_a_customer(app, households, make_staff):
    with app.app_context():
        account = find_account(db.session, households[0].number)
        _locate(account.id, units=4)
        db.session.commit()
    notice_households(app, households)
    with time_machine.travel(NOON, tick=False):
        clerk = _client(app, make_staff, "clerk")
        page = clerk.get("/staff/appeals/").text
        assert "(multi-unit)" in page and "Start service" in page
        with app.app_context():
            notice = db.session.scalar(sa.select(TenantNotice))
        pdf = clerk.get(f"/staff/appeals/tenants/{notice.id}.pdf")
        assert pdf.data.startswith(b"%PDF")
        path = f"/staff/appeals/tenants/{notice.id}/customer"
        refused = _post(clerk, path, name="", email="")
        assert refused.status_code == 422 and "holder_name: the tenant" in refused.text
        assert _post(clerk, path, name="Ana Tenant", email="ana@example.org").status_code == 303
        with app.app_context():
            notice = db.session.get(TenantNotice, notice.id)
            tenant = db.session.get(Account, notice.tenant_account_id)
            assert tenant.holder_name == "Ana Tenant"
        assert "Service starts for Ana Tenant" in clerk.get("/staff/appeals/").text


def test_the_api_records_lists_and_decides_appeals(app, town, client, api_headers):
    clerk, boss = api_headers("clerk"), api_headers("supervisor")
    path = f"/api/v1/accounts/{town[0].number}/shutoff-appeals"
    empty = client.post(path, json={"statement": ""}, headers=clerk)
    assert empty.status_code == 422 and "statement" in str(empty.json["errors"])
    made = client.post(path, json={"statement": "Paid at the counter"}, headers=clerk)
    assert made.status_code == 201, made.json
    assert made.json["status"] == "pending" and made.json["channel"] == "phone"
    again = client.post(path, json={"statement": "again"}, headers=clerk)
    assert again.status_code == 409 and "pending since" in str(again.json)
    queue = client.get("/api/v1/shutoff-appeals", headers=clerk).json
    assert [a["id"] for a in queue] == [made.json["id"]]
    decision = f"/api/v1/shutoff-appeals/{made.json['id']}/decision"
    body = {"decision": "upheld", "reasons": "The counter receipt was found.", "note": "drawer 2"}
    assert client.post(decision, json=body, headers=clerk).status_code == 403
    decided = client.post(decision, json=body, headers=boss)
    assert decided.status_code == 200 and decided.json["status"] == "upheld"
    assert client.post(decision, json=body, headers=boss).status_code == 409
    listed = client.get(path, headers=clerk).json
    assert listed[0]["internal_note"] == "drawer 2"
    assert client.get("/api/v1/shutoff-appeals", headers=clerk).json == []
