"""Texts in the portal: a registered resident turns texts about a linked account on with a US
mobile number and the consent words (kept as evidence: the words, their version, the time, the
address and the browser; a welcome text says how to stop), off again, and a bad number is
refused with the reason and records nothing."""

from __future__ import annotations

from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from core.extensions import db
from core.models import AuditEvent
from notices.models import TextConsent, TextMessage
from notices.text_rules import CONSENT_VERSION
from tests.conftest import sign_in as staff_sign_in
from tests.notices.twilio_server import serve
from tests.portal.test_residents import account_row, post, signed_in

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) resident-browser"


@pytest.fixture
def twilio(app):
    with serve(app) as state:
        yield state


def _page(number: str) -> str:
    return f"/my/accounts/{number}/texts"


def _opt_in(client, number: str, phone: str, agree: bool = True):
    data = {"phone": phone} | ({"agree": "yes"} if agree else {})
    return post(client, _page(number), _page(number), data)


def _consents() -> list[TextConsent]:
    return list(db.session.scalars(sa.select(TextConsent).order_by(TextConsent.id)))


def test_a_resident_opts_in_and_the_consent_evidence_is_kept(app, client, smtp, billed, twilio):
    with time_machine.travel(NOON, tick=False):
        signed_in(client, smtp, billed)
        page = client.get(_page(billed.number)).text
        assert "Message and data rates may apply" in page and "STOP to cancel" in page
        client.environ_base.update(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT=BROWSER)
        answer = _opt_in(client, billed.number, "(920) 203-4567")
        assert answer.status_code == 303
        shown = client.get(_page(billed.number)).text
    assert "(920) 203-4567" in shown and "Stop text messages" in shown
    with app.app_context():
        [consent] = _consents()
        account = account_row(billed.number)
        assert consent.account_id == account.id and consent.phone == "+19202034567"
        assert consent.wording_version == CONSENT_VERSION
        assert consent.wording.startswith(f"I agree that {app.config['MUNICIPALITY_NAME']} may")
        assert f"account {billed.number}" in consent.wording and consent.wording in page
        assert consent.consented_at == NOON
        assert (consent.ip, consent.user_agent) == ("198.51.100.7", BROWSER)
        assert consent.given_via == "portal" and consent.given_by == "ana.olson@example.net"
        assert consent.language == "en" and consent.ended_at is None
        [welcome] = db.session.scalars(sa.select(TextMessage)).all()
        assert welcome.purpose == "welcome" and welcome.notice_id is None
        assert welcome.status == "accepted"
        audit = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "text_consent.give")
        )
        assert audit.summary["phone"] == "+19202034567"
    [request] = twilio.requests
    assert request.form["To"] == "+19202034567"
    assert "Reply HELP for help, STOP to opt out." in request.form["Body"]


def test_a_resident_opts_out_in_the_portal(app, client, smtp, billed, twilio):
    with time_machine.travel(NOON, tick=False):
        signed_in(client, smtp, billed)
        _opt_in(client, billed.number, "920-203-4567")
        off = post(client, _page(billed.number), _page(billed.number) + "/off", {})
        assert off.status_code == 303
        page = client.get(_page(billed.number)).text
    assert "No more texts about account" in page and "Send me text messages" in page
    with app.app_context():
        [consent] = _consents()
        assert consent.ended_at == NOON and consent.ended_via == "portal"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("(920) 555-0123", "reserved for fiction"),
        ("+44 20 7946 0958", "Only US mobile numbers"),
        ("920-203-45", "A US phone number has 10 digits"),
    ],
)
def test_a_bad_number_is_refused_with_the_reason(app, client, smtp, billed, twilio, typed, reason):
    signed_in(client, smtp, billed)
    answer = _opt_in(client, billed.number, typed)
    assert answer.status_code == 422 and reason in answer.text
    with app.app_context():
        assert _consents() == []
    assert twilio.requests == []


def test_no_consent_without_the_box_ticked(app, client, smtp, billed, twilio):
    signed_in(client, smtp, billed)
    answer = _opt_in(client, billed.number, "(920) 203-4567", agree=False)
    assert answer.status_code == 422 and "Tick the box" in answer.text
    with app.app_context():
        assert _consents() == []


def test_the_spanish_page_shows_and_keeps_the_spanish_words(app, client, smtp, billed, twilio):
    with time_machine.travel(NOON, tick=False):
        signed_in(client, smtp, billed)
        with client.session_transaction() as session:
            session["lang"] = "es"
        refused = _opt_in(client, billed.number, "(920) 555-0123")
        assert "reservados para la ficción" in refused.text
        _opt_in(client, billed.number, "(920) 203-4567")
    with app.app_context():
        [consent] = _consents()
        assert consent.language == "es" and consent.wording.startswith("Acepto que")
    assert "STOP: cancelar" in twilio.requests[0].form["Body"]


def test_without_a_provider_the_page_says_no_texts_are_sent(app, client, smtp, billed):
    signed_in(client, smtp, billed)
    page = client.get(_page(billed.number)).text
    assert "The town does not send text messages" in page
    assert _opt_in(client, billed.number, "(920) 203-4567").status_code == 409
    with app.app_context():
        assert _consents() == []


def test_an_account_not_linked_is_not_found(client, smtp, households, twilio):
    signed_in(client, smtp, households[0])
    assert client.get(_page(households[1].number)).status_code == 404


def test_a_clerk_sees_the_consent_but_cannot_set_it(app, client, smtp, billed, twilio, make_staff):
    with time_machine.travel(NOON, tick=False):
        signed_in(client, smtp, billed)
        client.environ_base.update(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT=BROWSER)
        _opt_in(client, billed.number, "(920) 203-4567")
    clerk = app.test_client()
    staff_sign_in(clerk, make_staff("clerk"))
    page = unescape(clerk.get(f"/staff/accounts/{billed.number}").text)
    assert "Consents to texts" in page and "+19202034567" in page
    assert "portal, ana.olson@example.net" in page and CONSENT_VERSION in page
    assert "198.51.100.7" in page and BROWSER in page and "in force" in page
    assert "welcome" in page and "accepted" in page
    # No staff route changes a consent: the portal's need a resident's session.
    answer = clerk.post(f"/my/accounts/{billed.number}/texts/off")
    assert answer.status_code in (302, 303, 400)
    with app.app_context():
        assert _consents()[0].ended_at is None
