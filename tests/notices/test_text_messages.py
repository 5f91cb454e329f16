"""Text messages of notices, through the twilio client against a local server that answers as
Twilio's Messages API does: the request Twilio would get, the shutoff notice's words and
length, the quiet hours, Twilio's refusals, and one text per account and notice."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app

from accounts.models import Account, Language
from core.audit import Actor
from core.extensions import db
from core.jobs import JobContext
from core.money import format_cents
from notices import text_messages
from notices.content import access_code, pay_url
from notices.jobs import send_held_texts, send_shutoff_notices
from notices.models import Delivery, Notice, ShutoffNotice, TextConsent, TextMessage
from notices.text_rules import (
    BadNumber,
    is_gsm,
    normalize_us_mobile,
    quiet_until,
    segments,
    shutoff_body,
)
from tests.notices.test_shutoff import DAY, SHUTOFF_FROM, _town
from tests.notices.twilio_server import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, serve

CHICAGO = ZoneInfo("America/Chicago")
#: December 28, 2026 on the town's clock (Central time, UTC-6).
MORNING = datetime(2026, 12, 28, 10, 0, tzinfo=CHICAGO)
EARLY = datetime(2026, 12, 28, 6, 15, tzinfo=CHICAGO)
MOBILE = "+19202034567"
RESIDENT = Actor("resident", "1", "olson@example.org", "203.0.113.9")


def _consent(account_id: int, phone: str = "(920) 203-4567", language: str = "en"):
    account = db.session.get(Account, account_id)
    consent = text_messages.give_consent(
        db.session, current_app.config, RESIDENT, account, phone, language, user_agent="test"
    )
    db.session.commit()
    return consent


def _job(app):
    context = JobContext(DAY, False, Actor.job("send_shutoff_notices"), app.config)
    return send_shutoff_notices(db.session, context)


@pytest.fixture
def twilio(app):
    with serve(app) as state:
        yield state


@pytest.fixture
def olson(app):
    return _town(app, [("olson", "1 Oak St", False, Language.EN)])[0]


def test_the_shutoff_notice_is_texted_as_twilio_gets_it(ctx, olson, twilio):
    _consent(olson)
    with time_machine.travel(MORNING, tick=False):
        counts = _job(ctx)
    assert counts["noticed"] == 1 and counts["texted"] == 1
    notice_row = db.session.scalar(sa.select(ShutoffNotice))
    account = db.session.get(Account, olson)
    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.form["To"] == MOBILE
    assert request.form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in request.form
    assert request.form["StatusCallback"] == "http://127.0.0.1:5000/webhooks/twilio/status"
    body = request.form["Body"]
    # The town, the amount that stops the shutoff (the notice's), the earliest date, where to
    # pay and how to stop; never the quick-pay access code.
    assert body.startswith(f"{ctx.config['MUNICIPALITY_NAME']}: SHUTOFF NOTICE.")
    assert format_cents(notice_row.amount_cents) in body
    assert SHUTOFF_FROM.isoformat() == "2027-01-07" and "January 7, 2027" in body
    assert pay_url(ctx.config, account) in body
    assert body.endswith("Reply STOP to opt out.")
    assert access_code(ctx.config, account) not in body
    assert is_gsm(body) and segments(body) <= 2
    text = db.session.scalar(sa.select(TextMessage))
    assert text.notice_id == notice_row.notice_id and text.purpose == "notice"
    assert text.status == "accepted" and text.provider_sid.startswith("SM")
    assert text.to_number == MOBILE and text.body == body
    assert text.sent_at == datetime(2026, 12, 28, 16, 0, tzinfo=UTC)


def test_a_spanish_account_is_texted_in_spanish_within_two_segments(ctx, twilio):
    [ruiz] = _town(ctx, [("ruiz", "1 Oak St", False, Language.ES)])
    _consent(ruiz, language="es")
    with time_machine.travel(MORNING, tick=False):
        assert _job(ctx)["texted"] == 1
    body = twilio.requests[0].form["Body"]
    assert "AVISO DE CORTE" in body and "7 de enero de 2027" in body
    assert body.endswith("Responda STOP para cancelar.")
    assert is_gsm(body) and segments(body) <= 2


def test_the_longest_notice_text_fits_two_segments():
    town = "Village of Long Lake Township Water and Sewer Utility"
    for language in ("en", "es"):
        body = shutoff_body(
            language,
            town,
            999_999_99,
            date(2027, 9, 30),
            "https://pay.example.org/pay?account=1234567890",
        )
        assert segments(body) <= 2, (language, len(body))


def test_no_text_in_the_quiet_hours_it_goes_at_eight(ctx, olson, twilio):
    _consent(olson)
    with time_machine.travel(EARLY, tick=False):
        counts = _job(ctx)
    assert counts["texted"] == 1 and twilio.requests == []
    text = db.session.scalar(sa.select(TextMessage))
    assert text.status == "held"
    assert text.send_after == datetime(2026, 12, 28, 8, 0, tzinfo=CHICAGO)
    context = JobContext(DAY, False, Actor.job("send_held_texts"), ctx.config)
    with time_machine.travel(datetime(2026, 12, 28, 7, 59, tzinfo=CHICAGO), tick=False):
        assert send_held_texts(db.session, context)["sent"] == 0
    with time_machine.travel(datetime(2026, 12, 28, 8, 0, tzinfo=CHICAGO), tick=False):
        assert send_held_texts(db.session, context)["sent"] == 1
    assert len(twilio.requests) == 1
    db.session.expire_all()
    assert db.session.get(TextMessage, text.id).status == "accepted"


def test_quiet_hours_on_the_towns_clock():
    quiet = (21 * 60, 8 * 60)
    eight_am = datetime(2026, 12, 29, 8, 0, tzinfo=CHICAGO).astimezone(UTC)
    assert quiet_until(datetime(2026, 12, 28, 20, 59, tzinfo=CHICAGO), CHICAGO, quiet) is None
    assert quiet_until(datetime(2026, 12, 28, 21, 0, tzinfo=CHICAGO), CHICAGO, quiet) == eight_am
    assert quiet_until(datetime(2026, 12, 29, 3, 0, tzinfo=UTC), CHICAGO, quiet) == eight_am
    assert quiet_until(datetime(2026, 12, 29, 8, 0, tzinfo=CHICAGO), CHICAGO, quiet) is None
    # A window within one day (13:00-14:00) ends the same day.
    lunch = datetime(2026, 12, 29, 14, 0, tzinfo=CHICAGO).astimezone(UTC)
    noon_thirty = datetime(2026, 12, 29, 13, 30, tzinfo=CHICAGO)
    assert quiet_until(noon_thirty, CHICAGO, (13 * 60, 14 * 60)) == lunch


@pytest.mark.parametrize(
    ("refusal", "code"), [("unsubscribed", 21610), ("invalid", 21211)], ids=["stop", "invalid"]
)
def test_a_refused_text_leaves_the_mailed_notice_and_ends_the_consent(
    ctx, olson, twilio, refusal, code
):
    getattr(twilio, refusal).add(MOBILE)
    consent = _consent(olson)
    with time_machine.travel(MORNING, tick=False):
        counts = _job(ctx)
    assert counts["noticed"] == 1 and counts["texted"] == 0
    text = db.session.scalar(sa.select(TextMessage))
    assert text.status == "failed" and text.error_code == code
    assert text.provider_sid is None
    ended = db.session.get(TextConsent, consent.id)
    assert ended.ended_at is not None and ended.ended_via == f"refused by Twilio ({code})"
    notice = db.session.get(Notice, db.session.scalar(sa.select(ShutoffNotice)).notice_id)
    assert notice.delivery == Delivery.PRINT and notice.batch_id is not None


def test_twilio_out_of_reach_is_tried_again_then_failed(ctx, olson, twilio):
    twilio.down = True
    _consent(olson)
    context = JobContext(DAY, False, Actor.job("send_held_texts"), ctx.config)
    with time_machine.travel(MORNING, tick=False):
        assert _job(ctx)["texted"] == 1
    text = db.session.scalar(sa.select(TextMessage))
    assert (text.status, text.attempts) == ("held", 1)
    assert text.send_after == datetime(2026, 12, 28, 10, 15, tzinfo=CHICAGO)
    for minute in (15, 30):
        with time_machine.travel(datetime(2026, 12, 28, 10, minute, tzinfo=CHICAGO), tick=False):
            send_held_texts(db.session, context)
    db.session.expire_all()
    text = db.session.get(TextMessage, text.id)
    assert (text.status, text.attempts, text.error_code) == ("failed", 3, 20500)
    assert len(twilio.requests) == 3


def test_one_text_per_account_and_notice(ctx, olson, twilio):
    _consent(olson)
    with time_machine.travel(MORNING, tick=False):
        _job(ctx)
        again = _job(ctx)
        notice = db.session.get(Notice, db.session.scalar(sa.select(ShutoffNotice)).notice_id)
        first = db.session.scalar(sa.select(TextMessage))
        same = text_messages.send_notice_text(db.session, ctx.config, notice, "another text")
    assert again["already_noticed"] == 1 and again["texted"] == 0
    assert same.id == first.id
    assert len(twilio.requests) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TextMessage)) == 1


def test_no_text_without_consent_or_with_texting_off(ctx, olson, twilio):
    with time_machine.travel(MORNING, tick=False):
        assert _job(ctx)["texted"] == 0
        notice = db.session.get(Notice, db.session.scalar(sa.select(ShutoffNotice)).notice_id)
        _consent(olson)
        ctx.config["TEXTS_ENABLED"] = False
        assert text_messages.send_notice_text(db.session, ctx.config, notice, "words") is None
    assert twilio.requests == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TextMessage)) == 0


def test_a_text_longer_than_two_segments_is_refused(ctx, olson, twilio):
    _consent(olson)
    with time_machine.travel(MORNING, tick=False):
        _job(ctx)
        notice = db.session.get(Notice, db.session.scalar(sa.select(ShutoffNotice)).notice_id)
        with pytest.raises(text_messages.TextError, match="3 segments, at most 2"):
            text_messages.send_notice_text(db.session, ctx.config, notice, "x" * 307)
    assert len(twilio.requests) == 1  # the notice's own text only


def test_a_from_number_instead_of_a_messaging_service(ctx, olson, twilio):
    ctx.config.update(TWILIO_MESSAGING_SERVICE_SID="", TWILIO_FROM_NUMBER="+19205550199")
    _consent(olson)
    with time_machine.travel(MORNING, tick=False):
        _job(ctx)
    form = twilio.requests[0].form
    assert form["From"] == "+19205550199" and "MessagingServiceSid" not in form
    assert db.session.scalar(sa.select(TextMessage.status)) == "queued"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("(920) 203-4567", "+19202034567"),
        ("920.203.4567", "+19202034567"),
        ("+1 920 203 4567", "+19202034567"),
        ("1-920-203-4567", "+19202034567"),
    ],
)
def test_us_numbers_are_kept_in_e164(typed, e164):
    assert normalize_us_mobile(typed) == e164


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Enter a mobile phone number"),
        ("920-203-456", "10 digits"),
        ("+44 20 7946 0958", "Only US mobile numbers"),
        ("(120) 203-4567", "not a valid US phone number"),
        ("(911) 203-4567", "not a valid US phone number"),
        ("(920) 555-0123", "reserved for fiction"),
        ("920-CALL-NOW", "only digits"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(typed, reason):
    with pytest.raises(BadNumber, match=reason):
        normalize_us_mobile(typed)


def test_segments_count_gsm_and_unicode_texts():
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2  # two GSM characters each
    assert segments("á" * 70) == 1 and segments("á" * 71) == 2 and segments("á" * 135) == 3


def test_a_clerks_shutoff_notice_is_texted_too(app, runner, olson, twilio):
    with app.app_context():
        _consent(olson)
        number = db.session.get(Account, olson).number
    with time_machine.travel(datetime(2026, 12, 28, 10, 0, tzinfo=CHICAGO), tick=False):
        result = runner.invoke(args=["shutoff", "notice", number])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("; texted")
    assert "SHUTOFF NOTICE" in twilio.requests[0].form["Body"]
    with app.app_context():
        text = db.session.scalar(sa.select(TextMessage))
        assert text.notice_id == db.session.scalar(sa.select(ShutoffNotice.notice_id))


def test_the_welcome_help_and_consent_words_fit(ctx):
    from notices.text_rules import WORDS

    values = {
        "town": "Village of Long Lake Township",
        "account": "1234567890",
        "phone": "(920) 555-0100",
    }
    for language, texts in WORDS.items():
        for key in ("welcome", "help", "resumed"):
            assert segments(texts[key].format(**values)) <= 2, (language, key)
        assert "STOP" in texts["welcome"] and "HELP" in texts["welcome"]


def test_texting_is_off_by_default_and_needs_a_provider_when_on(tmp_path):
    from core.settings import ConfigError, load_settings

    base = {"MUNIBILL_ENV": "test", "SECRET_KEY": "x" * 40}
    settings = load_settings(base, tmp_path)
    assert settings["TEXTS_ENABLED"] is False
    assert settings["TEXT_QUIET_HOURS"] == (21 * 60, 8 * 60)
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID must be set"):
        load_settings(base | {"TEXTS_ENABLED": "on"}, tmp_path)
    with pytest.raises(ConfigError, match="TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER"):
        load_settings(
            base | {"TEXTS_ENABLED": "on", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"},
            tmp_path,
        )
    with pytest.raises(ConfigError, match="TEXT_QUIET_HOURS must be two times of day"):
        load_settings(base | {"TEXT_QUIET_HOURS": "9pm-8am"}, tmp_path)
    quiet = load_settings(base | {"TEXT_QUIET_HOURS": "20:30-07:45"}, tmp_path)
    assert quiet["TEXT_QUIET_HOURS"] == (20 * 60 + 30, 7 * 60 + 45)
