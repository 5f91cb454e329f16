"""The 48-hour notice the ways the resident chose (issue #21: "by mail, and e-mail and text
where the resident chose them"): the day's door hangers are texted where the account consented
to texts (within two segments, never the access code) and e-mailed with the hanger's PDF to
paperless accounts with a working address; the job counts both."""

from __future__ import annotations

import email
from datetime import date, datetime
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app

from accounts.models import Account, Language
from billing.models import DoorHanger
from core.audit import Actor
from core.extensions import db
from core.jobs import JobContext
from core.money import format_cents
from notices import text_messages
from notices.content import access_code, pay_url
from notices.issuing import open_pdf
from notices.jobs import leave_door_hangers
from notices.models import Delivery, Notice, TextMessage
from notices.text_rules import is_gsm, segments, shutoff_body
from tests.notices.field_fixtures import HANG_DAY, noticed_town, pdf_text
from tests.notices.twilio_server import serve

CHICAGO = ZoneInfo("America/Chicago")
#: The hangers' morning, on the town's clock (after the quiet hours).
MORNING = datetime(2027, 1, 5, 9, 0, tzinfo=CHICAGO)
RESIDENT = Actor("resident", "1", "resident@example.org", "203.0.113.9")
PEOPLE = [
    ("olson", "1 Oak St", False, Language.EN),  # texts
    ("ruiz", "1 Oak St", True, Language.ES),  # paperless: e-mail
    ("nguyen", "1 Oak St", False, Language.EN),  # neither: the hanger only
]


@pytest.fixture
def twilio(app):
    with serve(app) as state:
        yield state


def _consent(account_id: int) -> None:
    account = db.session.get(Account, account_id)
    text_messages.give_consent(
        db.session, current_app.config, RESIDENT, account, "(920) 203-4567", "en", user_agent="t"
    )
    db.session.commit()


def _hang(app) -> dict:
    with time_machine.travel(MORNING, tick=False):
        return leave_door_hangers(
            db.session, JobContext(HANG_DAY, False, Actor.job("leave_door_hangers"), app.config)
        )


def _hanger_mails(app) -> list[email.message.EmailMessage]:
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    ]
    return [m for m in mails if "48" in m["Subject"]]


def test_the_hanger_is_texted_and_e_mailed_where_the_resident_chose_them(app, twilio, tmp_path):
    olson, ruiz, nguyen = noticed_town(app, PEOPLE)
    with app.app_context():
        _consent(olson)
        counts = _hang(app)
        assert (counts["hung"], counts["texted"], counts["emailed"]) == (3, 1, 1)
        hangers = {h.account_id: h for h in db.session.scalars(sa.select(DoorHanger))}
        # The text: the hanger's amount and date, where to pay; never the access code.
        [request] = twilio.requests
        body = request.form["Body"]
        account = db.session.get(Account, olson)
        hanger = hangers[olson]
        assert "48-HOUR NOTICE" in body and format_cents(hanger.amount_cents) in body
        assert "January 7, 2027" in body and pay_url(app.config, account) in body
        assert access_code(app.config, account) not in body
        assert is_gsm(body) and segments(body) <= 2
        text = db.session.scalar(sa.select(TextMessage))
        assert text.notice_id == hanger.notice_id and text.status == "accepted"
        # The e-mail: in Spanish, the hanger's PDF attached.
        [mail] = _hanger_mails(app)
        spanish = hangers[ruiz]
        assert mail["To"] == "ruiz@example.org" and "aviso de 48 horas" in mail["Subject"]
        assert format_cents(spanish.amount_cents) in mail.get_body(("plain",)).get_content()
        [attachment] = list(mail.iter_attachments())
        pdf = attachment.get_content()
        read = pdf_text(pdf, tmp_path)
        assert "Aviso de 48 horas" in read and spanish.service_address in read
        notice = db.session.get(Notice, spanish.notice_id)
        assert notice.delivery is Delivery.EMAIL and notice.email_status == "written"
        assert notice.emailed_at is not None and open_pdf(app.config, notice) == pdf
        # Neither chosen: the hanger at the door only, no notice.
        assert hangers[nguyen].notice_id is None
        # The hangers' notices never go into a print batch.
        batched = db.session.scalars(sa.select(Notice.id).where(Notice.batch_id.is_not(None))).all()
        assert not {h.notice_id for h in hangers.values()} & set(batched)


def test_a_failed_text_leaves_the_hanger_and_a_bounced_address_gets_no_mail(app, twilio):
    (olson,) = noticed_town(app, [PEOPLE[0]])
    with app.app_context():
        _consent(olson)
        account = db.session.get(Account, olson)
        account.paperless = True
        account.email_bounced_at = datetime(2026, 12, 1, tzinfo=CHICAGO)
        db.session.commit()
        twilio.invalid.add("+19202034567")
        counts = _hang(app)
        assert (counts["hung"], counts["texted"], counts["emailed"]) == (1, 0, 0)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DoorHanger)) == 1
        assert _hanger_mails(app) == []


def test_a_dry_run_texts_and_mails_nothing(app, twilio):
    (olson,) = noticed_town(app, [PEOPLE[0]])
    with app.app_context():
        _consent(olson)
        with time_machine.travel(MORNING, tick=False):
            counts = leave_door_hangers(
                db.session, JobContext(HANG_DAY, True, Actor.job("leave_door_hangers"), app.config)
            )
        assert (counts["hung"], counts["texted"], counts["emailed"]) == (1, 0, 0)
        assert twilio.requests == [] and db.session.scalar(sa.select(DoorHanger)) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TextMessage)) == 0


def test_the_longest_hanger_text_fits_two_segments_in_gsm():
    town = "Village of Long Lake Township Water and Sewer Utility"
    for language in ("en", "es"):
        body = shutoff_body(
            language,
            town,
            999_999_99,
            date(2027, 9, 30),
            "https://pay.example.org/pay?account=1234567890",
            kind="hanger",
        )
        assert is_gsm(body) and segments(body) <= 2, (language, len(body))
        assert body.endswith(("Reply STOP to opt out.", "Responda STOP para cancelar."))
