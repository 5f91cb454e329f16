"""Reminders: each stage once per invoice over a whole cycle, one notice per account, paused and
disputed accounts left alone, e-mail failures sent again, dry runs change nothing, the pause API."""

import io
import socket
from datetime import date, timedelta
from pathlib import Path

import pypdf
import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.jobs import assess_late_fees
from billing.models import Invoice, InvoiceCharge, InvoiceKind
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from core.jobs import JobContext
from core.models import AuditEvent, JobStatus
from core.money import format_cents
from core.scheduling import Entry, run_entry
from notices import reminders
from notices.document import NoticeKind
from notices.jobs import send_reminders
from notices.mail_delivery import Mailer
from notices.models import Delivery, Notice, NoticeBatch, Reminder, ReminderPause
from notices.scanline import parse
from payments.counter import open_drawer, take_counter_payment
from payments.models import Channel, Dispute, DisputeStatus, Payment, PaymentStatus, Tender
from tests.billing.billing_fixtures import household, load_demo_levy, load_rules, parcel

CYCLE = "2026-10"
JOB = Actor.job("send_reminders")
CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
STAGES = {
    "upcoming": date(2026, 11, 16),
    "due": date(2026, 11, 23),
    "past_due": date(2026, 12, 3),
    "final": date(2026, 12, 23),
}


def _town(app, people):
    """Households billed in the October cycle; people: (name, zip, paperless, email, language)."""
    with app.app_context():
        plans = load_rules(db.session)
        ids = []
        for name, zip_code, paperless, email, language in people:
            account = household(db.session, plans, name, [1000, 5000, 9000, 13000, 18400])
            account.mail_zip, account.paperless, account.email = zip_code, paperless, email
            account.language = language
            ids.append(account.id)
        db.session.flush()
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.UTILITY,
            cycle=CYCLE,
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        db.session.commit()
        return ids


def _context(app, day: date, dry_run: bool = False) -> JobContext:
    return JobContext(as_of=day, dry_run=dry_run, actor=JOB, config=app.config)


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _invoice_of(account_id: int) -> Invoice:
    return db.session.scalar(sa.select(Invoice).where(Invoice.account_id == account_id))


def _sent(account_id: int) -> dict[str, date]:
    return {
        stage: day
        for stage, day in db.session.execute(
            sa.select(Reminder.stage, Reminder.sent_on).where(Reminder.account_id == account_id)
        )
    }


def _outbox(app) -> list[Path]:
    return sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))


def _text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages
    )


def _pay_in_full(account_id: int, on: date) -> None:
    account = db.session.get(Account, account_id)
    invoice = _invoice_of(account_id)
    drawer = open_drawer(db.session, CLERK)
    take_counter_payment(
        db.session,
        CLERK,
        drawer=drawer,
        account=account,
        amount_cents=invoice.balance_cents,
        tender=Tender.CASH,
        reference=None,
        invoice_numbers=[invoice.number],
        on=on,
    )
    db.session.commit()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Stages -----------------------------------------------------------------------------------


def test_the_stages_are_read_from_settings_and_a_bad_one_is_named():
    stages = reminders.parse_stages(
        "final:30:final, upcoming:-7:reminder,due:0:reminder,past_due:10:past_due"
    )
    assert [(s.name, s.days, s.kind) for s in stages] == [
        ("upcoming", -7, NoticeKind.REMINDER),
        ("due", 0, NoticeKind.REMINDER),
        ("past_due", 10, NoticeKind.PAST_DUE),
        ("final", 30, NoticeKind.FINAL),
    ]
    for text, part in [
        ("due:0:reminder,late:ten:past_due", "'late:ten:past_due'"),
        ("due:0:reminder,late:10", "'late:10'"),
        ("due:0:bill", "'bill'"),
        ("due:0:reminder,due:5:final", "'due' appears twice"),
        ("", "no stages"),
    ]:
        with pytest.raises(ValueError, match=part):
            reminders.parse_stages(text)


def test_only_the_latest_due_stage_is_sent_and_never_an_earlier_one_after_it():
    stages = reminders.parse_stages(
        "upcoming:-7:reminder,due:0:reminder,past_due:10:past_due,final:30:final"
    )
    due = date(2026, 11, 23)

    def pick(day, sent=()):
        stage = reminders.stage_to_send(stages, due, day, set(sent))
        return stage and stage.name

    assert pick(date(2026, 11, 15)) is None
    assert pick(date(2026, 11, 16)) == "upcoming"
    assert pick(date(2026, 11, 20), ["upcoming"]) is None
    assert pick(date(2027, 1, 5)) == "final"  # a month without runs: the final notice, once
    assert pick(date(2027, 1, 5), ["final"]) is None
    assert pick(date(2026, 12, 5), ["final"]) is None  # never an earlier stage after a later one


# --- A whole cycle ----------------------------------------------------------------------------


def test_a_whole_cycle_sends_each_stage_once_per_invoice(app):
    mail, paper, payer, paused, disputed = _town(
        app,
        [
            ("Mail", "54901-0001", False, "mail@example.org", "en"),
            ("Paper", "54902-0002", False, None, "en"),
            ("Payer", "54903-0003", False, "payer@example.org", "en"),
            ("Paused", "54904-0004", True, None, "es"),
            ("Disputed", "54905-0005", False, "disputed@example.org", "en"),
        ],
    )
    with app.app_context():
        _pay_in_full(payer, date(2026, 11, 5))
        # a card payment of the disputed account is under dispute all cycle
        card = Payment(
            account_id=disputed,
            channel=Channel.ONLINE,
            tender=Tender.CARD,
            status=PaymentStatus.SUCCEEDED,
            amount_cents=1000,
            created_by="quick pay",
        )
        db.session.add(card)
        db.session.flush()
        db.session.add(
            Dispute(
                stripe_dispute_id="dp_test_1",
                payment_id=card.id,
                amount_cents=1000,
                status=DisputeStatus.OPEN,
            )
        )
        paused_invoice = _invoice_of(paused)
        db.session.add(
            ReminderPause(
                invoice_id=paused_invoice.id,
                reason="Resident disputes the meter read",
                paused_by=CLERK.label,
            )
        )
        db.session.commit()

        totals: dict[str, int] = {}
        for day in _days(date(2026, 11, 10), date(2027, 1, 10)):
            if day == date(2026, 12, 10):
                pause = db.session.scalar(sa.select(ReminderPause))
                pause.resumed_at, pause.resumed_by = sa.func.now(), CLERK.label
                db.session.commit()
            assess_late_fees(db.session, _context(app, day))
            db.session.commit()
            counts = send_reminders(db.session, _context(app, day))
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value

        assert _sent(mail) == STAGES
        assert _sent(paper) == STAGES
        assert _sent(payer) == {}  # paid in full: silent
        assert _sent(disputed) == {}  # an open dispute on one of its payments
        # paused until December 10: the latest stage due then, then the final notice
        assert _sent(paused) == {"past_due": date(2026, 12, 10), "final": STAGES["final"]}
        assert totals["invoices"] == 4 + 4 + 2 and totals["accounts"] == 10
        assert totals["emailed"] == 4 and totals["printed"] == 6 and totals["failed"] == 0
        assert totals["skipped_paused"] > 0 and totals["skipped_disputed"] > 0

        # the e-mailed account: four messages in the outbox, each with its notice
        assert len(_outbox(app)) == 4
        assert all(b"mail@example.org" in path.read_bytes() for path in _outbox(app))
        emailed = db.session.scalars(
            sa.select(Notice).where(Notice.account_id == mail).order_by(Notice.id)
        ).all()
        assert [n.kind for n in emailed] == [
            NoticeKind.REMINDER,
            NoticeKind.REMINDER,
            NoticeKind.PAST_DUE,
            NoticeKind.FINAL,
        ]
        assert {(n.delivery, n.email_status) for n in emailed} == {(Delivery.EMAIL, "written")}

        # the accounts without e-mail: in a print batch PDF on each day they had a notice
        batches = db.session.scalars(sa.select(NoticeBatch).order_by(NoticeBatch.id)).all()
        assert [b.cycle for b in batches] == [
            "rem-2026-11-16",
            "rem-2026-11-23",
            "rem-2026-12-03",
            "rem-2026-12-10",
            "rem-2026-12-23",
        ]
        assert [b.printed for b in batches] == [1, 1, 1, 1, 2]
        assert all(b.kind == NoticeKind.REMINDER for b in batches)
        paper_number = db.session.get(Account, paper).number
        paused_number = db.session.get(Account, paused).number
        folder = Path(app.config["NOTICES_DIR"])
        last = _text((folder / batches[-1].pdf_path).read_bytes())
        assert paper_number in last and paused_number in last
        assert "Final Notice" in last and "AVISO FINAL" in last  # each in its own language
        assert _count(Reminder) == 10
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Reminder).where(Reminder.notice_id.is_(None))
            )
            == 0
        )

        # the final notice asks for what is owed now: the balance and the late fees
        final = db.session.scalar(
            sa.select(Notice).where(Notice.account_id == paper, Notice.kind == NoticeKind.FINAL)
        )
        invoice = _invoice_of(paper)
        fees = int(
            db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(InvoiceCharge.balance_cents), 0)).where(
                    InvoiceCharge.invoice_id == invoice.id, InvoiceCharge.waived_at.is_(None)
                )
            )
        )
        assert fees > 0
        text = _text((folder / final.path).read_bytes())
        assert invoice.number in text and format_cents(invoice.balance_cents + fees) in text

        # running the whole cycle again sends nothing new
        again = send_reminders(db.session, _context(app, date(2027, 1, 10)))
        assert again["accounts"] == 0 and _count(Reminder) == 10


# --- E-mail failures --------------------------------------------------------------------------


def test_an_smtp_server_that_is_down_keeps_nothing_and_the_next_run_sends_it_once(app):
    (mail,) = _town(app, [("Mail", "54901-0001", False, "mail@example.org", "en")])
    day = date(2026, 11, 16)
    with app.app_context():
        app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", _closed_port()
        app.config["SMTP_STARTTLS"] = False
        mailer = Mailer.from_config(app.config, attempts=1, base_delay=0, timeout=2)
        outcome = reminders.send_reminders(db.session, app.config, JOB, as_of=day, mailer=mailer)
        assert outcome.counts()["failed"] == 1 and outcome.accounts == 0
        assert _count(Reminder) == 0 and _count(Notice) == 0 and _count(NoticeBatch) == 0
        assert db.session.get(Account, mail).email_bounced_at is None

        app.config["SMTP_HOST"] = ""  # the outbox
        counts = send_reminders(db.session, _context(app, day))
        assert (counts["emailed"], counts["failed"]) == (1, 0)
        assert _sent(mail) == {"upcoming": day}
        assert send_reminders(db.session, _context(app, day))["accounts"] == 0
        assert len(_outbox(app)) == 1


def test_a_bounced_address_is_marked_and_the_reminder_printed(app):
    (mail,) = _town(app, [("Mail", "54901-0001", False, "not an address", "en")])
    day = date(2026, 11, 23)
    with app.app_context():
        counts = send_reminders(db.session, _context(app, day))
        assert (counts["emailed"], counts["printed"], counts["failed"]) == (0, 1, 0)
        assert db.session.get(Account, mail).email_bounced_at is not None
        notice = db.session.scalar(sa.select(Notice))
        assert (notice.delivery, notice.email_status) == (Delivery.PRINT, "bounced")
        batch = db.session.scalar(sa.select(NoticeBatch))
        assert notice.batch_id == batch.id and batch.printed == 1
        assert _sent(mail) == {"due": day}


# --- Dry runs and races -----------------------------------------------------------------------


def test_a_dry_run_counts_and_changes_nothing(app):
    _town(
        app,
        [
            ("Mail", "54901-0001", False, "mail@example.org", "en"),
            ("Paper", "54902-0002", False, None, "en"),
        ],
    )
    with app.app_context():
        events = _count(AuditEvent)
        counts = send_reminders(db.session, _context(app, date(2026, 12, 23), dry_run=True))
        assert counts == {
            "accounts": 2,
            "invoices": 2,
            "emailed": 1,
            "printed": 1,
            "skipped_paused": 0,
            "skipped_disputed": 0,
            "skipped_under_plan": 0,
            "skipped_in_flight": 0,
            "failed": 0,
            "already_sent": 0,
        }
        for model in (Reminder, Notice, NoticeBatch):
            assert _count(model) == 0
        assert _count(AuditEvent) == events
        assert not Path(app.config["NOTICES_DIR"]).exists()
        assert not _outbox(app)
    # the same through the scheduler's entry, recorded as a job run
    entry = Entry("send_reminders", "notices.jobs:send_reminders", "cron", {"hour": 6})
    run = run_entry(app, entry, as_of=date(2026, 12, 23), dry_run=True)
    assert run.status == JobStatus.SUCCEEDED and run.dry_run
    assert (run.counts["accounts"], run.counts["emailed"]) == (2, 1)
    with app.app_context():
        assert _count(Reminder) == 0 and _count(Notice) == 0


def test_a_second_run_at_the_same_moment_fails_cleanly_for_the_account(app):
    (paper,) = _town(app, [("Paper", "54902-0002", False, None, "en")])
    day = date(2026, 11, 23)
    with app.app_context():
        outcome = reminders.Outcome()
        (planned,) = reminders.plan(db.session, app.config, day, outcome)
        db.session.commit()
        # another run sends the same stage between our planning and our sending
        assert send_reminders(db.session, _context(app, day))["accounts"] == 1
        reminders._send_account(db.session, app.config, JOB, None, planned, day, outcome)
        assert (outcome.already_sent, outcome.accounts) == (1, 0)
        assert _count(Reminder) == 1 and _count(Notice) == 1
        assert _sent(paper) == {"due": day}


# --- The consolidated notice ------------------------------------------------------------------


def test_one_notice_lists_every_invoice_reminded_and_the_total(app):
    (owner,) = _town(app, [("Owner", "54901-0001", False, None, "en")])
    with app.app_context():
        load_demo_levy(db.session, 2025)
        parcel(db.session, db.session.get(Account, owner), "251-0001-00", 250_000)
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.TAX,
            cycle="2025",
            issue_date=date(2025, 12, 10),
            due_date=date(2026, 1, 31),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        db.session.commit()
        invoices = db.session.scalars(
            sa.select(Invoice).where(Invoice.account_id == owner).order_by(Invoice.id)
        ).all()
        assert {i.kind for i in invoices} == {InvoiceKind.UTILITY, InvoiceKind.TAX}
        numbers = [i.number for i in invoices]
        total = sum(i.balance_cents for i in invoices)
        account_number = db.session.get(Account, owner).number

        day = date(2026, 12, 23)
        counts = send_reminders(db.session, _context(app, day))
        assert (counts["accounts"], counts["invoices"], counts["printed"]) == (1, 2, 1)
        (notice,) = db.session.scalars(sa.select(Notice)).all()
        assert (
            notice.kind == NoticeKind.FINAL and notice.reference == f"R-20261223-{account_number}"
        )
        assert {r.stage for r in db.session.scalars(sa.select(Reminder))} == {"final"}
        pdf = (Path(app.config["NOTICES_DIR"]) / notice.path).read_bytes()
        text = _text(pdf)
        for number in numbers:
            assert number in text
        assert format_cents(total) in text
        assert "Final Notice" in text and "disconnected" in text and "delinquent" in text
        deadline = day + timedelta(days=app.config["FINAL_NOTICE_DAYS"])
        document = reminders.reminder_notice(
            db.session,
            app.config,
            db.session.get(Account, owner),
            [(i, reminders.parse_stages(app.config["REMINDER_STAGES"])[-1]) for i in invoices],
            day,
        )
        (stub,) = document.stubs
        line = parse(stub.scan_line)
        assert (line.account_number, line.amount_cents, line.due_date) == (
            account_number,
            total,
            deadline,
        )
        assert document.due_date == date(2026, 1, 31)  # the earliest unpaid installment's
        assert [row.amount_cents for row in document.activity] == [
            invoices[1].balance_cents,
            invoices[0].balance_cents,
        ]
        batch = db.session.scalar(sa.select(NoticeBatch))
        merged = (Path(app.config["NOTICES_DIR"]) / batch.pdf_path).read_bytes()
        assert account_number in _text(merged)


def test_an_account_pause_skips_all_its_invoices(app):
    (paused,) = _town(app, [("Paused", "54901-0001", False, None, "en")])
    with app.app_context():
        db.session.add(ReminderPause(account_id=paused, reason="Estate", paused_by=CLERK.label))
        db.session.commit()
        counts = send_reminders(db.session, _context(app, date(2026, 11, 23)))
        assert (counts["accounts"], counts["skipped_paused"]) == (0, 1)
        assert _count(Reminder) == 0


# --- The pause API ----------------------------------------------------------------------------


def test_pausing_and_resuming_through_the_api(app, client, api_headers):
    (account_id,) = _town(app, [("Olson", "54901-0001", False, None, "en")])
    with app.app_context():
        invoice_number = _invoice_of(account_id).number
        account_number = db.session.get(Account, account_id).number
    clerk, auditor = api_headers("clerk"), api_headers("auditor")

    url = f"/api/v1/invoices/{invoice_number}/reminder-pauses"
    short = client.post(url, json={"reason": "meh "}, headers=clerk)
    assert short.status_code == 422
    assert client.post(url, json={"reason": "Payment plan"}, headers=auditor).status_code == 403
    made = client.post(url, json={"reason": "Payment plan agreed"}, headers=clerk)
    assert made.status_code == 201, made.get_json()
    pause = made.get_json()
    assert pause["invoice"] == invoice_number and pause["resumed_at"] is None
    assert (
        client.post(url, json={"reason": "Payment plan agreed"}, headers=clerk).status_code == 409
    )
    assert (
        client.post(
            "/api/v1/invoices/NOPE/reminder-pauses", json={"reason": "whatever"}, headers=clerk
        ).status_code
        == 404
    )

    account_url = f"/api/v1/accounts/{account_number}/reminder-pauses"
    whole = client.post(account_url, json={"reason": "Owner deceased"}, headers=clerk)
    assert whole.status_code == 201 and whole.get_json()["account"] == account_number

    with app.app_context():
        counts = send_reminders(db.session, _context(app, date(2026, 11, 23)))
        assert counts["skipped_paused"] == 1 and counts["accounts"] == 0

    resume = f"/api/v1/reminder-pauses/{pause['id']}/resume"
    assert client.post(resume, headers=auditor).status_code == 403
    resumed = client.post(resume, headers=clerk)
    assert resumed.status_code == 200 and resumed.get_json()["resumed_at"]
    assert client.post(resume, headers=clerk).status_code == 409
    assert (
        client.post(f"/api/v1/reminder-pauses/{whole.get_json()['id']}/resume", headers=clerk)
    ).status_code == 200

    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
        assert {"reminder.pause", "reminder.resume"} <= actions
        counts = send_reminders(db.session, _context(app, date(2026, 11, 23)))
        assert counts["accounts"] == 1 and _sent(account_id) == {"due": date(2026, 11, 23)}


def test_a_second_installment_is_reminded_after_the_first_reached_its_final_notice(app):
    (owner,) = _town(app, [("Owner", "54901-0001", False, None, "en")])
    with app.app_context():
        load_demo_levy(db.session, 2025)  # installments due January 31 and July 31, 2026
        parcel(db.session, db.session.get(Account, owner), "251-0001-00", 250_000)
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.TAX,
            cycle="2025",
            issue_date=date(2025, 12, 10),
            due_date=date(2026, 1, 31),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        db.session.commit()
        tax = db.session.scalar(
            sa.select(Invoice).where(Invoice.account_id == owner, Invoice.kind == InvoiceKind.TAX)
        )

        def reminded():
            return {
                (r.installment_number, r.stage, r.sent_on)
                for r in db.session.scalars(
                    sa.select(Reminder).where(Reminder.invoice_id == tax.id)
                )
            }

        first_final = date(2026, 3, 2)  # 30 days after the first installment
        assert send_reminders(db.session, _context(app, first_final))["accounts"] == 1
        assert reminded() == {(1, "final", first_final)}

        second_past_due = date(2026, 8, 10)  # 10 days after the second installment
        counts = send_reminders(db.session, _context(app, second_past_due))
        assert (counts["accounts"], counts["invoices"]) == (1, 1)
        assert reminded() == {(1, "final", first_final), (2, "past_due", second_past_due)}
        # The first installment is never reminded again, the second once per stage.
        assert send_reminders(db.session, _context(app, second_past_due))["accounts"] == 0
        second_final = date(2026, 8, 30)
        send_reminders(db.session, _context(app, second_final))
        assert (2, "final", second_final) in reminded()
        assert len(reminded()) == 3


def test_a_bank_debit_in_flight_holds_the_reminder_until_the_bank_answers(app):
    (paying,) = _town(app, [("Paying", "54901-0001", False, "paying@example.org", "en")])
    with app.app_context():
        debit = Payment(
            account_id=paying,
            channel=Channel.ONLINE,
            tender=Tender.BANK_DEBIT,
            status=PaymentStatus.PROCESSING,
            amount_cents=_invoice_of(paying).balance_cents,
            created_by="quick pay",
        )
        db.session.add(debit)
        db.session.commit()
        counts = send_reminders(db.session, _context(app, date(2026, 11, 23)))
        assert (counts["accounts"], counts["skipped_in_flight"]) == (0, 1)
        assert _count(Reminder) == 0
        debit.status = PaymentStatus.FAILED  # the bank returned it: the bill is owed after all
        db.session.commit()
        counts = send_reminders(db.session, _context(app, date(2026, 11, 24)))
        assert counts["accounts"] == 1 and _count(Reminder) == 1


def test_penalties_wait_while_a_bank_debit_of_the_account_is_in_flight(app):
    (paying,) = _town(app, [("Paying", "54901-0001", False, "paying@example.org", "en")])
    with app.app_context():
        debit = Payment(
            account_id=paying,
            channel=Channel.ONLINE,
            tender=Tender.BANK_DEBIT,
            status=PaymentStatus.PROCESSING,
            amount_cents=_invoice_of(paying).balance_cents,
            created_by="quick pay",
        )
        db.session.add(debit)
        db.session.commit()
        late = date(2027, 1, 10)
        counts = assess_late_fees(db.session, _context(app, late))
        db.session.commit()
        assert (counts["held"], counts["charges"]) == (1, 0)
        assert _count(InvoiceCharge) == 0
        debit.status = PaymentStatus.FAILED  # the bank returned it: the bill was never paid
        db.session.commit()
        counts = assess_late_fees(db.session, _context(app, late + timedelta(days=1)))
        db.session.commit()
        assert counts["held"] == 0 and counts["charges"] > 0
