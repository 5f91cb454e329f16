"""Utility shutoff eligibility and the shutoff notice, against the database: each exclusion
holds the account off until it ends, the notice read back from its PDF asks the position's
past-due amount by the earliest shutoff date, the occupant gets a copy when the bills go
elsewhere, the daily job notices each delinquency once, and bad requests are refused with the
reason."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.models import Account, Language
from billing.arrangements import PlanRequest, accept_plan, cancel_plan, propose_plan
from billing.medical_certificates import ShutoffError, record_certificate
from billing.models import InvoiceKind
from billing.position import UTILITY, account_position
from billing.runs import RunOptions, open_run, post_run
from billing.shutoff_rules import load_shutoff_rule
from core.audit import Actor
from core.extensions import db
from core.jobs import JobContext
from core.models import AuditEvent
from core.money import format_cents
from notices.issuing import open_pdf
from notices.jobs import send_shutoff_notices
from notices.models import Delivery, Notice, NoticeBatch, ShutoffNotice
from notices.scanline import parse
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_notices import issue_shutoff_notice
from payments.models import Channel, Dispute, DisputeStatus, Payment, PaymentStatus, Tender
from tests.billing.billing_fixtures import household, load_rules
from tests.billing.plan_fixtures import add_rule

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
JOB = Actor.job("send_shutoff_notices")
#: Monday December 28, 2026: the October bills (due November 23) are 35 days late.
DAY = date(2026, 12, 28)
#: Seven business days later: December 29, 30, 31, January 4, 5, 6, 7 (New Year's Day off).
SHUTOFF_FROM = date(2027, 1, 7)
RULE = {
    "effective": "2026-01-01",
    "min_past_due": "10.00",
    "min_days_past_due": 30,
    "notice_lead_days": 7,
    "moratoria": [{"name": "Winter freeze", "starts": "2027-01-15", "ends": "2027-02-15"}],
}
SCAN = re.compile(r"\b(\d{8}) (\d{10}) (\d{8}) (\d)\b")


def _town(app, people) -> list[int]:
    """Households billed for October 2026 (due November 23); people: (name, mail street,
    paperless, language). A household living at its service address (1 Oak St) gets its mail
    there."""
    with app.app_context():
        plans = load_rules(db.session)
        ids = []
        for name, street, paperless, language in people:
            account = household(db.session, plans, name, [1000, 5000, 9000, 13000, 18400])
            account.mail_street, account.mail_street2 = street, None
            account.mail_zip = "54901" if street == "1 Oak St" else "54303"
            account.paperless, account.language = paperless, language
            account.email = f"{name}@example.org"
            ids.append(account.id)
        run = open_run(
            db.session,
            Actor.job("t"),
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, Actor.job("t"), RunOptions())
        load_shutoff_rule(db.session, CLERK, RULE)
        db.session.commit()
        return ids


@pytest.fixture
def town(app):
    return _town(app, [("olson", "1 Oak St", False, Language.EN)])


def _eligibility(account_id: int, day: date = DAY):
    return shutoff_eligibility(db.session, db.session.get(Account, account_id), day)


def _pdftotext(app, notice: Notice) -> str:
    """The notice as pdftotext reads it, white space folded."""
    path = Path(app.config["NOTICES_DIR"]) / notice.path
    assert open_pdf(app.config, notice)  # the stored file matches its hash
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def _cents(text: str) -> int:
    dollars, cents = text.lstrip("$").replace(",", "").split(".")
    return int(dollars) * 100 + int(cents)


# Eligibility.


def test_an_account_late_enough_by_enough_may_be_noticed(ctx, town):
    found = _eligibility(town[0])
    position = account_position(db.session, town[0], DAY)
    assert found.reasons == ()
    assert found.may_notice and found.may_shut_off
    assert found.past_due_cents == position.past_due_cents(UTILITY) > 1000
    assert found.days_past_due == 35
    assert found.earliest_shutoff == SHUTOFF_FROM


def test_too_little_or_too_recent_is_not_enough(ctx, town):
    load_shutoff_rule(db.session, CLERK, RULE | {"min_past_due": "5000.00"})
    found = _eligibility(town[0])
    assert not found.may_notice
    assert any("is less than the rule's $5,000.00" in reason for reason in found.reasons)
    load_shutoff_rule(db.session, CLERK, RULE | {"effective": "2026-12-01"})
    early = _eligibility(town[0], date(2026, 12, 10))
    assert early.reasons == ("the oldest past-due amount is 17 days late; the rule asks 30",)


def test_without_a_rule_in_force_nobody_is_shut_off(ctx, town):
    found = _eligibility(town[0], date(2025, 12, 31))
    assert "no shutoff rule is in force on 2025-12-31" in found.reasons


def test_a_current_payment_plan_holds_the_shutoff_until_it_ends(ctx, town):
    add_rule(db.session)
    account = db.session.get(Account, town[0])
    owed = account_position(db.session, account.id, DAY).owed_cents()
    plan = propose_plan(
        db.session, CLERK, account, PlanRequest(("utility",), owed // 5, 3), as_of=DAY, via="clerk"
    )
    assert _eligibility(account.id).may_notice  # proposed, not accepted yet
    accept_plan(db.session, CLERK, plan, how="counter", on=DAY, at=datetime.now(UTC))
    assert _eligibility(account.id).reasons == ("the account is under a current payment plan",)
    cancel_plan(db.session, CLERK, plan, on=date(2027, 1, 4), reason="resident asked")
    assert not _eligibility(account.id, date(2027, 1, 3)).may_notice
    assert _eligibility(account.id, date(2027, 1, 4)).may_notice


def _dispute(account_id: int) -> Dispute:
    card = Payment(
        account_id=account_id,
        channel=Channel.ONLINE,
        tender=Tender.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount_cents=1000,
        created_by="quick pay",
    )
    db.session.add(card)
    db.session.flush()
    dispute = Dispute(
        stripe_dispute_id=f"dp_shutoff_{account_id}",
        payment_id=card.id,
        amount_cents=1000,
        status=DisputeStatus.OPEN,
    )
    db.session.add(dispute)
    db.session.flush()
    return dispute


def test_an_open_dispute_holds_the_shutoff_until_it_closes(ctx, town):
    dispute = _dispute(town[0])
    assert _eligibility(town[0]).reasons == (
        "a payment of the account is disputed and the dispute is open",
    )
    dispute.status = DisputeStatus.WON
    db.session.flush()
    assert _eligibility(town[0]).may_notice


def test_a_bank_debit_on_its_way_holds_the_shutoff_until_the_bank_answers(ctx, town):
    debit = Payment(
        account_id=town[0],
        channel=Channel.ONLINE,
        tender=Tender.BANK_DEBIT,
        status=PaymentStatus.PROCESSING,
        amount_cents=1000,
        created_by="quick pay",
    )
    db.session.add(debit)
    db.session.flush()
    assert _eligibility(town[0]).reasons == (
        "a bank payment of the account is on its way and the bank has not answered",
    )
    debit.status = PaymentStatus.RETURNED
    db.session.flush()
    assert _eligibility(town[0]).may_notice


def test_a_medical_certificate_holds_the_shutoff_through_its_end_date(ctx, town):
    account = db.session.get(Account, town[0])
    record_certificate(
        db.session,
        CLERK,
        account,
        starts_on=date(2026, 12, 27),
        ends_on=date(2027, 1, 5),
        certified_by="Dr. Ana Ruiz, Maple Falls Clinic",
    )
    assert _eligibility(account.id, date(2026, 12, 26)).may_notice
    held = _eligibility(account.id, date(2027, 1, 5))
    assert held.reasons == (
        "a medical certificate is on file until 2027-01-05 (Dr. Ana Ruiz, Maple Falls Clinic)",
    )
    assert _eligibility(account.id, date(2027, 1, 6)).may_notice
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "medical_certificate.record")
    )
    assert event is not None and event.actor_label == CLERK.label


def test_a_day_with_no_shutoffs_allows_a_notice_but_no_shutoff(ctx, town):
    for day, why in [
        (date(2027, 1, 2), "Saturday"),
        (date(2027, 1, 1), "New Year's Day"),
        (date(2027, 1, 20), "Winter freeze"),
    ]:
        found = _eligibility(town[0], day)
        assert found.not_today == why
        assert found.may_notice and not found.may_shut_off
    # Noticed on January 12, seven business days (the 18th is Martin Luther King Jr. Day) end
    # on the 22nd, inside the freeze: the earliest shutoff is the day after it, February 16.
    assert _eligibility(town[0], date(2027, 1, 12)).earliest_shutoff == date(2027, 2, 16)


# The notice.


def test_the_notice_asks_the_positions_past_due_amount_by_the_earliest_shutoff(app, town):
    with app.app_context():
        account = db.session.get(Account, town[0])
        row = issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        db.session.commit()
        notice = db.session.get(Notice, row.notice_id)
        text = _pdftotext(app, notice)
        past_due = account_position(db.session, account.id, DAY).past_due_cents(UTILITY)
        assert row.amount_cents == past_due
        assert row.earliest_shutoff_on == SHUTOFF_FROM
        assert "Shutoff Notice" in text
        assert (
            f"may be shut off on or after January 7, 2027 unless the past-due amount of "
            f"{format_cents(past_due)} is paid" in text
        )
        assert "1 Oak St" in text
        amounts = {_cents(found) for found in re.findall(r"\$[\d,]+\.\d{2}", text)}
        assert amounts == {past_due}
        lines = [parse("".join(found.groups())) for found in SCAN.finditer(text)]
        assert [(line.amount_cents, line.due_date) for line in lines] == [(past_due, SHUTOFF_FROM)]
        assert "Earliest shutoff date" in text
        assert notice.delivery is Delivery.PRINT and notice.email_status is None
        assert row.occupant_notice_id is None  # the bills go to the service address


def test_a_spanish_notice_says_the_same_in_spanish(app):
    ids = _town(app, [("garcia", "1 Oak St", False, Language.ES)])
    with app.app_context():
        account = db.session.get(Account, ids[0])
        row = issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        db.session.commit()
        text = _pdftotext(app, db.session.get(Notice, row.notice_id))
        amount = format_cents(account_position(db.session, account.id, DAY).past_due_cents(UTILITY))
        assert "Aviso de corte de servicio" in text
        assert "puede cortarse a partir del 7 de enero de 2027 si antes no se paga" in text
        assert f"el saldo vencido de {amount}" in text


def test_the_occupant_gets_a_copy_when_the_bills_go_elsewhere(app):
    ids = _town(app, [("nguyen", "500 Commerce Pkwy", False, Language.EN)])
    with app.app_context():
        account = db.session.get(Account, ids[0])
        row = issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        db.session.commit()
        own = db.session.get(Notice, row.notice_id)
        copy = db.session.get(Notice, row.occupant_notice_id)
        assert copy.copy_of_id == own.id and copy.delivery is Delivery.PRINT
        own_text, copy_text = _pdftotext(app, own), _pdftotext(app, copy)
        assert "500 Commerce Pkwy" in own_text and "500 Commerce Pkwy" not in copy_text
        assert "Occupant 1 Oak St Maple Falls WI 54901" in copy_text
        assert "To the occupant of 1 Oak St" in copy_text
        amount = format_cents(row.amount_cents)
        assert amount in own_text and amount in copy_text
        assert "Access code" in own_text and "Access code" not in copy_text


def test_the_daily_job_notices_each_delinquency_once(app):
    ids = _town(
        app,
        [
            ("olson", "1 Oak St", True, Language.EN),
            ("nguyen", "500 Commerce Pkwy", False, Language.EN),
            ("held", "1 Oak St", False, Language.EN),
        ],
    )
    with app.app_context():
        record_certificate(
            db.session,
            CLERK,
            db.session.get(Account, ids[2]),
            starts_on=DAY,
            ends_on=date(2027, 3, 31),
            certified_by="Maple Falls Clinic",
        )
        db.session.commit()
        context = JobContext(as_of=DAY, dry_run=True, actor=JOB, config=app.config)
        assert send_shutoff_notices(db.session, context)["noticed"] == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffNotice)) == 0
        first = send_shutoff_notices(db.session, JobContext(DAY, False, JOB, app.config))
        assert first == {
            "noticed": 2,
            "emailed": 1,
            "occupant_copies": 1,
            "excluded": 1,
            "already_noticed": 0,
            "texted": 0,  # texting is off unless set up (test_text_messages)
        }
        again = send_shutoff_notices(db.session, JobContext(DAY, False, JOB, app.config))
        later = send_shutoff_notices(
            db.session, JobContext(date(2026, 12, 29), False, JOB, app.config)
        )
        assert again["noticed"] == later["noticed"] == 0
        assert again["already_noticed"] == later["already_noticed"] == 2
        rows = db.session.scalars(sa.select(ShutoffNotice).order_by(ShutoffNotice.id)).all()
        assert [row.account_id for row in rows] == ids[:2]
        # Every printed notice, the occupant's copy among them, is in the one batch of the day.
        batch = db.session.scalar(
            sa.select(NoticeBatch).where(NoticeBatch.cycle == "shut-2026-12-28")
        )
        printed = db.session.scalars(sa.select(Notice).where(Notice.batch_id == batch.id)).all()
        assert batch.printed == len(printed) == 3
        emailed = db.session.get(Notice, rows[0].notice_id)
        assert emailed.email_status == "written" and emailed.email_to == "olson@example.org"
        outbox = sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
        assert len(outbox) == 1
        mail = outbox[0].read_text()
        assert "shutoff notice for account" in mail
        # The shutoff date is said once, under its own label, never also as a due date.
        body = email.message_from_string(mail, policy=email.policy.default)
        text = body.get_body(("plain",)).get_content()
        assert text.count("Earliest shutoff date:") == 1 and "Due date" not in text


def test_a_clerks_request_for_an_excluded_account_is_refused_with_the_reason(app):
    ids = _town(
        app,
        [
            ("medical", "1 Oak St", False, Language.EN),
            ("planned", "1 Oak St", False, Language.EN),
            ("disputed", "1 Oak St", False, Language.EN),
        ],
    )
    with app.app_context():
        medical, planned, disputed = (db.session.get(Account, i) for i in ids)
        record_certificate(
            db.session,
            CLERK,
            medical,
            starts_on=DAY,
            ends_on=date(2027, 2, 1),
            certified_by="Maple Falls Clinic",
        )
        add_rule(db.session)
        owed = account_position(db.session, planned.id, DAY).owed_cents()
        plan = propose_plan(
            db.session,
            CLERK,
            planned,
            PlanRequest(("utility",), owed // 5, 3),
            as_of=DAY,
            via="clerk",
        )
        accept_plan(db.session, CLERK, plan, how="counter", on=DAY, at=datetime.now(UTC))
        _dispute(disputed.id)
        db.session.commit()
        for account, reason in [
            (medical, "a medical certificate is on file until 2027-02-01"),
            (planned, "under a current payment plan"),
            (disputed, "the dispute is open"),
        ]:
            with pytest.raises(ShutoffError, match=reason):
                issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
            db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffNotice)) == 0


def test_a_second_notice_for_the_same_delinquency_is_refused(app, town):
    with app.app_context():
        account = db.session.get(Account, town[0])
        issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        db.session.commit()
        with pytest.raises(ShutoffError, match="was sent a shutoff notice for this delinquency"):
            issue_shutoff_notice(db.session, app.config, CLERK, account, date(2026, 12, 30))


def test_a_certificate_ending_before_it_starts_is_refused(ctx, town):
    with pytest.raises(ShutoffError, match="ends on 2026-12-01, before it starts on 2026-12-20"):
        record_certificate(
            db.session,
            CLERK,
            db.session.get(Account, town[0]),
            starts_on=date(2026, 12, 20),
            ends_on=date(2026, 12, 1),
            certified_by="Maple Falls Clinic",
        )


def test_the_cli_loads_a_rule_and_refuses_a_bad_one(app, runner, tmp_path):
    good, bad = tmp_path / "rule.yaml", tmp_path / "bad.yaml"
    good.write_text(
        "effective: 2026-01-01\nmin_past_due: '25.00'\nmin_days_past_due: 60\nnotice_lead_days: 7\n"
    )
    bad.write_text(
        "effective: 2026-01-01\nmin_past_due: '25.00'\nmin_days_past_due: 60\n"
        "notice_lead_days: -3\n"
    )
    refused = runner.invoke(args=["shutoff", "rule", str(bad)])
    assert refused.exit_code != 0
    assert "notice_lead_days: must not be negative" in refused.output
    loaded = runner.invoke(args=["shutoff", "rule", str(good)])
    assert loaded.exit_code == 0, loaded.output
    shown = runner.invoke(args=["shutoff", "show-rule", "--on", "2026-06-01"])
    assert '"min_past_due": "25.00"' in shown.output and '"notice_lead_days": 7' in shown.output
