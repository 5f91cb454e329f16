"""Twilio's webhooks, signed as Twilio signs them (HMAC-SHA1 of the URL and the sorted form
fields with the auth token, base64, in X-Twilio-Signature; computed here from Twilio's
description, not by the library the app uses): STOP ends texting, START resumes it, HELP
answers, a bad signature is refused with 403 and changes nothing, and status callbacks are
kept on the text."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account, Language
from core.extensions import db
from notices import text_messages
from notices.models import TextConsent, TextMessage
from tests.notices.test_shutoff import _town
from tests.notices.test_text_messages import CHICAGO, MOBILE, _consent
from tests.notices.twilio_server import ACCOUNT_SID, AUTH_TOKEN, serve

NOON = datetime(2026, 12, 28, 12, 0, tzinfo=CHICAGO)
INBOUND = "/webhooks/twilio/inbound"
STATUS = "/webhooks/twilio/status"


@pytest.fixture
def twilio(app):
    with serve(app) as state:
        yield state


@pytest.fixture
def olson(app):
    return _town(app, [("olson", "1 Oak St", False, Language.EN)])[0]


def _signature(url: str, form: dict, token: str = AUTH_TOKEN) -> str:
    payload = url + "".join(key + form[key] for key in sorted(form))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _post(client, path: str, form: dict, signature: str | None = None):
    url = "http://127.0.0.1:5000" + path
    headers = {"X-Twilio-Signature": signature or _signature(url, form)}
    return client.post(path, data=form, headers=headers)


def _inbound(body: str, sender: str = MOBILE) -> dict:
    return {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": "+19205550199",
        "Body": body,
        "NumMedia": "0",
    }


def _reply(response) -> str | None:
    """The text of the TwiML reply, or None for an empty <Response/>."""
    assert response.status_code == 200 and response.mimetype == "application/xml"
    message = ElementTree.fromstring(response.data).find("Message")
    return None if message is None else message.text


def test_stop_ends_texting_and_start_resumes_it(app, client, olson, twilio):
    with app.app_context():
        first = _consent(olson).id
    with time_machine.travel(NOON, tick=False):
        assert _reply(_post(client, INBOUND, _inbound("Stop"))) is None
    with app.app_context():
        stopped = db.session.get(TextConsent, first)
        assert stopped.ended_at == NOON and stopped.ended_via == "reply STOP"
        assert text_messages.active_consent(db.session, olson) is None
    reply = _reply(_post(client, INBOUND, _inbound("START")))
    assert "texts are on again" in reply and "STOP" in reply
    with app.app_context():
        again = text_messages.active_consent(db.session, olson)
        assert again.id != first and again.given_via == "reply START"
        assert again.phone == MOBILE and again.wording == stopped.wording


@pytest.mark.parametrize("word", ["UNSUBSCRIBE", "cancel", "End", "quit", "STOPALL"])
def test_every_stop_word_ends_texting(app, client, olson, twilio, word):
    with app.app_context():
        _consent(olson)
    _post(client, INBOUND, _inbound(word))
    with app.app_context():
        assert text_messages.active_consent(db.session, olson) is None


def test_start_does_not_revive_a_consent_ended_in_the_portal(app, client, olson, twilio):
    with app.app_context():
        consent = _consent(olson)
        account = db.session.get(Account, consent.account_id)
        text_messages.end_consent(db.session, text_messages.PROVIDER, account, "portal")
        db.session.commit()
    assert _reply(_post(client, INBOUND, _inbound("START"))) is None
    with app.app_context():
        assert text_messages.active_consent(db.session, olson) is None


def test_help_answers_with_the_towns_phone_and_how_to_stop(app, client, olson, twilio):
    with app.app_context():
        _consent(olson)
    reply = _reply(_post(client, INBOUND, _inbound("help")))
    assert app.config["MUNICIPALITY_PHONE"] in reply and "Reply STOP to opt out" in reply
    with app.app_context():
        assert text_messages.active_consent(db.session, olson) is not None


def test_help_in_spanish_for_a_spanish_consent(app, client, olson, twilio):
    with app.app_context():
        _consent(olson, language="es")
    reply = _reply(_post(client, INBOUND, _inbound("HELP")))
    assert reply.startswith(app.config["MUNICIPALITY_NAME"] + ": llame al")


def test_any_other_reply_gets_no_answer(app, client, olson, twilio):
    with app.app_context():
        _consent(olson)
    assert _reply(_post(client, INBOUND, _inbound("when is my bill due?"))) is None


@pytest.mark.parametrize("path", [INBOUND, STATUS])
def test_a_bad_signature_is_refused_and_changes_nothing(app, client, olson, twilio, path):
    with app.app_context():
        _consent(olson)
    form = _inbound("STOP") | {"MessageStatus": "delivered"}
    url = "http://127.0.0.1:5000" + path
    forged = _signature(url, form, token="0" * 32)
    assert _post(client, path, form, signature=forged).status_code == 403
    assert client.post(path, data=form).status_code == 403  # no signature at all
    tampered = _signature(url, form | {"Body": "HELP"})
    assert _post(client, path, form, signature=tampered).status_code == 403
    with app.app_context():
        assert text_messages.active_consent(db.session, olson) is not None


def _sent_text(app, olson) -> TextMessage:
    with app.app_context(), time_machine.travel(NOON, tick=False):
        consent = _consent(olson)
        text = text_messages.send_welcome(db.session, app.config, consent)
        assert text.status == "accepted"
        return text.provider_sid


def test_status_callbacks_are_kept_on_the_text(app, client, olson, twilio):
    sid = _sent_text(app, olson)
    for status in ("sent", "delivered", "sent"):  # the late "sent" moves nothing back
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
        assert _post(client, STATUS, form).status_code == 204
    with app.app_context():
        text = db.session.scalar(sa.select(TextMessage).where(TextMessage.provider_sid == sid))
        assert text.status == "delivered" and text.error_code is None


def test_an_undelivered_text_keeps_twilios_error_code(app, client, olson, twilio):
    sid = _sent_text(app, olson)
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert _post(client, STATUS, form).status_code == 204
    with app.app_context():
        text = db.session.scalar(sa.select(TextMessage).where(TextMessage.provider_sid == sid))
        assert (text.status, text.error_code) == ("undelivered", 30003)


def test_a_callback_for_a_text_we_never_sent_changes_nothing(app, client, twilio):
    form = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered"}
    assert _post(client, STATUS, form).status_code == 204


def test_a_text_held_for_the_morning_is_canceled_by_stop(app, client, olson, twilio):
    with app.app_context(), time_machine.travel(datetime(2026, 12, 28, 22, 0, tzinfo=CHICAGO)):
        text = text_messages.send_welcome(db.session, app.config, _consent(olson))
        assert text.status == "held"
        text_id = text.id
    _post(client, INBOUND, _inbound("STOP"))
    with app.app_context(), time_machine.travel(datetime(2026, 12, 29, 8, 0, tzinfo=CHICAGO)):
        assert text_messages.send_held_texts(db.session, app.config)["canceled"] == 1
        assert db.session.get(TextMessage, text_id).status == "canceled"
    assert twilio.requests == []


def test_only_the_gateway_imports_twilio():
    root = Path(__file__).resolve().parents[2]
    importers = set()
    for package in ("core", "ledger", "accounts", "billing", "payments", "notices", "portal"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(name == "twilio" or name.startswith("twilio.") for name in names):
                    importers.add(str(path.relative_to(root)))
    assert importers == {"notices/sms_gateway.py"}
