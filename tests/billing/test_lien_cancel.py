"""Cancelling a lien: a supervisor takes it back with the reason (sold in error, a bankruptcy
stay), audited, from the service, the CLI and the API; the cancelled lien no longer closes
online payment. Without a reason, by a clerk, or a lien no longer under lien: refused with the
reason and nothing written."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
import time_machine

from billing.liens import cancel_lien, certify_sale, find_lien, online_payment_refusal
from billing.models import Lien, LienStatus
from billing.tax_delinquency import LienError
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from payments.models import Channel
from tests.billing.lien_fixtures import CLERK, NOW, RESIDENT, delinquent_town, pay, tax_invoice

TODAY = date(2026, 12, 6)
SALE = date(2027, 1, 15)
SUPERVISOR = Actor("user", "9", "supervisor@example.org", "127.0.0.1")


@pytest.fixture(autouse=True)
def _on_the_day():
    """Today is December 6, 2026 in the town, whatever the real clock says."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def town(session):
    owners = delinquent_town(session)
    certify_sale(session, CLERK, SALE, today=TODAY)
    return owners


def _audits(session) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "lien.cancel")))


def test_a_cancelled_lien_keeps_who_when_and_why_and_reopens_online_payment(session, town):
    account = town["P-100"]
    lien = find_lien(session, "LS-2027-01-15", "P-100")
    invoice = tax_invoice(session, account)
    assert online_payment_refusal(session, [invoice.id]) is not None
    cancel_lien(session, SUPERVISOR, lien, "  sold in error:\nthe owner paid in time ", today=TODAY)
    session.refresh(lien)
    assert lien.status == LienStatus.CANCELLED
    assert (lien.cancelled_on, lien.cancelled_by) == (TODAY, "supervisor@example.org")
    assert lien.cancel_reason == "sold in error: the owner paid in time"
    [audit] = _audits(session)
    assert audit.summary["reason"] == "sold in error: the owner paid in time"
    assert audit.summary["parcel"] == "P-100"
    assert online_payment_refusal(session, [invoice.id]) is None
    paid = pay(session, account, 5000, TODAY, channel=Channel.ONLINE, actor=RESIDENT)
    assert paid.amount_cents == 5000
    # NOTE: the other parcels' liens still close their tax to online payment.
    assert online_payment_refusal(session, [tax_invoice(session, town["P-200"]).id])


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "reason: say why the lien is cancelled"), ("x" * 501, "reason: at most 500")],
)
def test_a_cancellation_without_a_fit_reason_is_refused_and_nothing_written(
    session, town, reason, message
):
    lien = find_lien(session, "LS-2027-01-15", "P-100")
    with pytest.raises(LienError, match=message):
        cancel_lien(session, SUPERVISOR, lien, reason, today=TODAY)
    session.refresh(lien)
    assert lien.status == LienStatus.UNDER_LIEN and lien.cancel_reason is None
    assert _audits(session) == []


def test_a_lien_no_longer_under_lien_cannot_be_cancelled(session, town):
    lien = find_lien(session, "LS-2027-01-15", "P-200")
    cancel_lien(session, SUPERVISOR, lien, "bankruptcy stay", today=TODAY)
    with pytest.raises(LienError, match="P-200 is cancelled, not under lien"):
        cancel_lien(session, SUPERVISOR, lien, "again", today=TODAY)
    redeemed = find_lien(session, "LS-2027-01-15", "P-100")
    pay(session, town["P-100"], redeemed.amount_cents, TODAY)
    session.refresh(redeemed)
    assert redeemed.status == LienStatus.REDEEMED
    with pytest.raises(LienError, match="P-100 is redeemed, not under lien"):
        cancel_lien(session, SUPERVISOR, redeemed, "sold in error", today=TODAY)
    assert len(_audits(session)) == 1


def _liened(app):
    with app.app_context():
        delinquent_town(db.session)
        certify_sale(db.session, CLERK, SALE, today=TODAY)
        db.session.commit()


def _status(app, parcel: str) -> Lien:
    with app.app_context():
        lien = find_lien(db.session, "LS-2027-01-15", parcel)
        return lien.status, lien.cancel_reason, lien.cancelled_on


def test_the_cli_cancels_with_the_reason_and_who_and_refuses_without(app, runner):
    _liened(app)
    base = ["tax", "cancel-lien", "LS-2027-01-15", "P-100"]
    missing = runner.invoke(args=[*base, "--by", "boss@example.org"])
    assert missing.exit_code != 0 and "--reason" in missing.output
    unknown = runner.invoke(
        args=["tax", "cancel-lien", "LS-2027-01-15", "P-999", "--reason", "x", "--by", "b@x.org"]
    )
    assert unknown.exit_code != 0 and "no lien on parcel P-999" in unknown.output
    done = runner.invoke(args=[*base, "--reason", "bankruptcy stay", "--by", "boss@example.org"])
    assert done.exit_code == 0, done.output
    assert "lien cancelled (bankruptcy stay)" in done.output
    assert _status(app, "P-100") == (LienStatus.CANCELLED, "bankruptcy stay", TODAY)
    with app.app_context():
        [audit] = _audits(db.session)
        assert "boss@example.org" in audit.actor_label
    again = runner.invoke(args=[*base, "--reason", "again", "--by", "boss@example.org"])
    assert again.exit_code != 0 and "is cancelled, not under lien" in again.output


def test_the_api_lets_a_supervisor_cancel_and_refuses_a_clerk(app, client, api_headers):
    _liened(app)
    url = "/api/v1/tax/lien-sales/LS-2027-01-15/liens/P-100/cancel"
    clerk = client.post(url, json={"reason": "sold in error"}, headers=api_headers("clerk"))
    assert clerk.status_code == 403
    supervisor = api_headers("supervisor")
    empty = client.post(url, json={"reason": ""}, headers=supervisor)
    assert empty.status_code == 422
    assert _status(app, "P-100")[0] == LienStatus.UNDER_LIEN
    made = client.post(url, json={"reason": "sold in error"}, headers=supervisor)
    assert made.status_code == 200, made.text
    body = made.get_json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "sold in error")
    assert body["cancelled_on"] == "2026-12-06"
    again = client.post(url, json={"reason": "sold in error"}, headers=supervisor)
    assert again.status_code == 422 and "not under lien" in again.text
    nowhere = client.post(url.replace("P-100", "P-999"), json={"reason": "x"}, headers=supervisor)
    assert nowhere.status_code == 404
    listed = client.get("/api/v1/tax/parcels/P-100/liens", headers=api_headers("auditor"))
    assert listed.get_json()[0]["status"] == "cancelled"
