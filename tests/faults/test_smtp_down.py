"""The SMTP server going down during reminders and during a print batch: nothing that did not go
is marked sent, and every resident gets each notice once (by e-mail on the next run once the
server is back, or on paper in the batch)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from accounts.models import Account
from core.extensions import db
from notices import reminders
from notices.mail_delivery import Mailer
from notices.models import Delivery, Notice, NoticeBatch, Reminder
from notices.print_batches import print_batch
from tests.notices.test_mail import Handler, start
from tests.notices.test_reminders import CYCLE, JOB, _town

DAY = date(2026, 11, 16)  # the "upcoming" stage of the October bills
PEOPLE = [
    ("Ames", "54901-0001", True, "ames@example.org", "en"),
    ("Berg", "54901-0002", True, "berg@example.org", "es"),
    ("Cruz", "54901-0003", True, "cruz@example.org", "en"),
    ("Diaz", "54901-0004", True, "diaz@example.org", "en"),
    ("Paper", "54901-0005", False, None, "en"),
]


def _mailer(app, port: int) -> Mailer:
    """The app's mailer on the test server, trying twice without waiting."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, SMTP_USER="")
    return Mailer.from_config(app.config, attempts=2, base_delay=0, timeout=5)


def _goes_down_after(mailer: Mailer, controller: Controller, handler: Handler, sent: int) -> None:
    """Stop the SMTP server once it has accepted `sent` messages (in the middle of the run)."""
    send = mailer.send

    def send_then_maybe_fail(message):
        if len(handler.envelopes) >= sent and controller.loop.is_running():
            controller.stop()
        return send(message)

    mailer.send = send_then_maybe_fail


def _recipients(handler: Handler) -> list[str]:
    return sorted(address for envelope in handler.envelopes for address in envelope.rcpt_tos)


def test_reminders_cut_off_by_an_smtp_outage_are_sent_once_by_the_next_run(app):
    _town(app, PEOPLE)
    controller, server = start(Handler())
    mailer = _mailer(app, server.port)
    _goes_down_after(mailer, controller, server.handler, sent=2)
    with app.app_context():
        first = reminders.send_reminders(db.session, app.config, JOB, as_of=DAY, mailer=mailer)
        assert (first.emailed, first.failed, first.printed) == (2, 2, 1)
        reminded = set(db.session.scalars(sa.select(Reminder.account_id)))
        mailed = set(
            db.session.scalars(sa.select(Notice.account_id).where(Notice.emailed_at.is_not(None)))
        )
        assert len(reminded) == 3 and len(mailed) == 2  # the two cut off are not marked sent
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 3
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(Account.email_bounced_at.is_not(None))
            )
            == 0
        )  # an outage is not a bad address
        batch = db.session.get(NoticeBatch, first.batch_id)
        assert batch.printed == 1  # only the paper account's notice goes to the mail house

    controller = Controller(server.handler, hostname="127.0.0.1", port=server.port)
    controller.start()  # the server is back, on the same port
    try:
        with app.app_context():
            second = reminders.send_reminders(db.session, app.config, JOB, as_of=DAY, mailer=mailer)
            assert (second.emailed, second.failed, second.printed) == (2, 0, 0)
            assert second.batch_id is None
            third = reminders.send_reminders(db.session, app.config, JOB, as_of=DAY, mailer=mailer)
            assert third.accounts == 0
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Reminder)) == 5
    finally:
        controller.stop()
    emails = sorted(person[3] for person in PEOPLE if person[3])
    assert _recipients(server.handler) == emails  # each e-mailed resident got one reminder


def test_a_print_batch_during_an_smtp_outage_prints_every_bill_once_and_marks_none_emailed(app):
    _town(app, PEOPLE[:2] + PEOPLE[-1:])
    controller, server = start(Handler())
    mailer = _mailer(app, server.port)
    controller.stop()  # the server is down for the whole batch
    with app.app_context():
        batch = print_batch(
            db.session, app.config, JOB, cycle=CYCLE, on=date(2026, 11, 2), mailer=mailer
        )
        assert (batch.printed, batch.emailed) == (3, 0)
        notices = db.session.scalars(sa.select(Notice)).all()
        assert len(notices) == 3 and {n.delivery for n in notices} == {Delivery.PRINT}
        assert all(n.emailed_at is None for n in notices)
        assert sorted(n.email_status or "" for n in notices) == ["", "failed", "failed"]
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(Account.email_bounced_at.is_not(None))
            )
            == 0
        )
        assert batch.pdf_path and batch.manifest_path
    assert server.handler.envelopes == []
