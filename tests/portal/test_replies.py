"""Replies that could tell a stranger who is registered: every step (a wrong password, the
lockout, a reset request, a new confirmation link) answers a known and an unknown address
with the same words and status, and the request does the same work for both: the mail a
known address gets is written and sent once the answer has gone out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from flask import request_finished

from notices.mail_delivery import Mailer
from tests.billing.billing_fixtures import bill_households
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.portal.test_residents import (
    ADDRESS,
    NOW,
    PASSWORD,
    mails,
    post,
    registered,
    sign_up,
)
from tests.security.conftest import RESIDENT_EMAIL, register_resident

UNKNOWN = "nobody.here@example.net"
CSRF_VALUE = re.compile(r'name="csrf_token"[^>]*>')


@pytest.fixture
def work(app, monkeypatch, smtp):
    """What happened, in order: the end of each request ("answered", with the mail the SMTP
    server had by then) and each message handed to the mailer ("mail")."""
    seen: list[tuple[str, int]] = []

    def answered(sender, response, **extra):
        seen.append(("answered", len(smtp.handler.envelopes)))

    real_send = Mailer.send

    def send(self, message):
        seen.append(("mail", len(smtp.handler.envelopes)))
        return real_send(self, message)

    monkeypatch.setattr(Mailer, "send", send)
    request_finished.connect(answered, app)
    yield seen
    request_finished.disconnect(answered, app)


def _asked(client, work, page: str, action: str, address: str):
    """Post the form for the address (after opening its page); the answer, and what was
    done from the page's opening on."""
    del work[:]
    answer = post(client, page, action, {"email": address})
    return answer, list(work)


def _words(answer, address: str) -> str:
    """The answer's text without the address typed and the forms' one-time tokens."""
    return CSRF_VALUE.sub("", answer.text.replace(address, "@"))


@pytest.mark.parametrize(
    ("form", "page", "action"),
    [("reset", "/reset", "/reset"), ("new confirmation link", "/signin", "/verify/resend")],
)
def test_a_known_and_an_unknown_address_cost_the_request_the_same_and_mail_comes_after(
    app, client, smtp, billed, work, form, page, action
):
    if form == "reset":
        registered(client, smtp, billed)
    else:
        sign_up(client, billed.number, billed.access_code)  # not confirmed yet
    before = len(mails(smtp, ADDRESS))
    known, known_work = _asked(client, work, page, action, ADDRESS)
    sent = len(smtp.handler.envelopes)
    unknown, unknown_work = _asked(client, work, page, action, UNKNOWN)
    assert (known.status_code, unknown.status_code) == (200, 200)
    assert _words(known, ADDRESS) == _words(unknown, UNKNOWN)
    # Neither request writes or sends a message before its answer; the known one's comes after.
    assert known_work == [("answered", sent - 1), ("answered", sent - 1), ("mail", sent - 1)]
    assert unknown_work == [("answered", sent), ("answered", sent)]
    assert len(mails(smtp, ADDRESS)) == before + 1
    assert mails(smtp, UNKNOWN) == []


def _six_wrong_then_right(client, send, address: str, right_password: str) -> list[tuple]:
    """Five wrong passwords for the address, a sixth, then the right one (which a lock
    refuses); each answer's status and words."""
    answers = [send(client, address, "not the password at all") for _ in range(6)]
    answers.append(send(client, address, right_password))
    return [(answer.status_code, _words(answer, address)) for answer in answers]


def _resident_sign_in(client, address: str, password: str):
    return post(client, "/signin", "/signin", {"email": address, "password": password})


def _staff_sign_in(client, address: str, password: str):
    return post(client, "/login", "/login", {"email": address, "password": password})


def test_a_resident_sign_in_answers_a_registered_and_an_unknown_address_alike(app, smtp, billed):
    client = app.test_client()
    registered(client, smtp, billed)
    known = _six_wrong_then_right(app.test_client(), _resident_sign_in, ADDRESS, PASSWORD)
    unknown = _six_wrong_then_right(app.test_client(), _resident_sign_in, UNKNOWN, PASSWORD)
    assert known == unknown
    assert "Too many failed sign-ins" in known[4][1]
    assert "Too many failed sign-ins" not in known[3][1]
    assert all(status == 422 for status, _words in known)


def test_the_staff_sign_in_answers_a_user_and_an_unknown_address_alike(app, make_staff):
    clerk = make_staff("clerk")
    known = _six_wrong_then_right(app.test_client(), _staff_sign_in, clerk, STAFF_PASSWORD)
    stranger = "no.such.clerk@example.org"
    unknown = _six_wrong_then_right(app.test_client(), _staff_sign_in, stranger, STAFF_PASSWORD)
    assert known == unknown
    assert "Too many failed sign-ins" in known[4][1]
    assert "Too many failed sign-ins" not in known[3][1]
    assert all(status == 401 for status, _words in known)


def test_an_unknown_address_is_locked_out_for_the_same_time_as_a_real_one(app, smtp, billed):
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(5):
            _resident_sign_in(app.test_client(), UNKNOWN, "not the password at all")
        clock.shift(timedelta(minutes=14))
        still = _resident_sign_in(app.test_client(), UNKNOWN, "not the password at all")
        assert "Too many failed sign-ins" in still.text and "1 minutes" in still.text
        clock.shift(timedelta(minutes=1, seconds=1))
        after = _resident_sign_in(app.test_client(), UNKNOWN, "not the password at all")
        assert "The e-mail address or password is not correct." in after.text


def test_links_are_mailed_to_an_address_only_so_often_from_any_client(throttled):
    app = throttled()
    (billed,) = bill_households(app, "olson")
    register_resident(app, billed.number, RESIDENT_EMAIL)
    for address in (RESIDENT_EMAIL, UNKNOWN):
        answers = []
        for n, (page, action) in enumerate(
            [("/reset", "/reset"), ("/signin", "/verify/resend"), ("/reset", "/reset")] * 2
        ):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
            answer = post(client, page, action, {"email": address})
            answers.append((answer.status_code, _words(answer, address)))
        assert [status for status, _words in answers] == [200, 200, 200, 429, 429, 429]
        assert "as many e-mails to this address as we can for now" in answers[3][1]
        assert "Try again in 60 minutes" in answers[3][1]
        if address == RESIDENT_EMAIL:
            first = answers
    assert answers == first  # a registered and an unknown address are answered alike
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.200"
    assert post(other, "/reset", "/reset", {"email": "someone.else@example.net"}).status_code == 200
