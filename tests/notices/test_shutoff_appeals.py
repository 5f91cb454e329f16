"""Shutoff appeals against the database: a pending appeal holds every shutoff step, a denial
moves the earliest shutoff to the rule's business days after the decision, an upheld appeal
voids its delinquency's notice until a new delinquency, decisions are final and audited, the
rule's appeal window is kept, and the decision letter carries the reasons for the resident but
never the internal note."""

from __future__ import annotations

import email
import email.policy
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account, Language
from billing.computed import RuleError
from billing.medical_certificates import ShutoffError
from billing.shutoff_rules import load_shutoff_rule, parse_shutoff_rule
from core.extensions import db
from core.jobs import JobContext
from core.models import AuditEvent
from notices.appeal_letters import decision_pdf, send_acknowledgement, send_decision
from notices.jobs import send_shutoff_notices
from notices.mail_delivery import Mailer
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal, ShutoffNotice
from notices.shutoff_appeals import AppealError, decide_appeal, file_appeal, withdraw_appeal
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_notices import issue_shutoff_notice
from tests.notices.test_shutoff import CLERK, DAY, JOB, RULE, SHUTOFF_FROM, _town

SUPERVISOR = CLERK.__class__("user", "2", "supervisor@example.org", "127.0.0.1")
AT = datetime(2026, 12, 29, 17, 0, tzinfo=UTC)
#: Tuesday December 29, 2026: the day after the notice.
FILED = date(2026, 12, 29)


@pytest.fixture
def noticed(app):
    """Olson, noticed on Monday December 28, 2026 (shutoff from January 7, 2027)."""
    ids = _town(app, [("olson", "1 Oak St", False, Language.EN)])
    with app.app_context():
        account = db.session.get(Account, ids[0])
        account.email = "olson@example.org"
        issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        db.session.commit()
    return ids[0]


def _file(account_id: int, on: date = FILED, channel=AppealChannel.PORTAL, words="I paid it"):
    account = db.session.get(Account, account_id)
    return file_appeal(db.session, CLERK, account, statement=words, channel=channel, at=AT, on=on)


def _decide(appeal, upheld: bool, on: date = date(2026, 12, 30)):
    return decide_appeal(
        db.session,
        SUPERVISOR,
        appeal,
        upheld=upheld,
        resident_reasons="Our records show the payment arrived after the notice.",
        internal_note="Staff only: check the lockbox file of Dec 27.",
        at=AT,
        on=on,
    )


def _eligibility(account_id: int, on: date):
    return shutoff_eligibility(db.session, db.session.get(Account, account_id), on)


def test_a_pending_appeal_holds_every_shutoff_step_with_the_reason(app, noticed):
    with app.app_context():
        appeal = _file(noticed)
        assert appeal.status == AppealStatus.PENDING and appeal.filed_by == "resident"
        found = _eligibility(noticed, SHUTOFF_FROM)
        assert found.reasons == ("an appeal is pending (filed on 2026-12-29)",)
        assert not found.may_notice and not found.may_shut_off


def test_a_second_appeal_while_one_is_pending_is_refused_and_writes_nothing(app, noticed):
    with app.app_context():
        _file(noticed)
        with pytest.raises(AppealError, match="has an appeal pending since 2026-12-29") as error:
            _file(noticed, channel=AppealChannel.PHONE)
        assert error.value.code == "already"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffAppeal)) == 1


def test_an_empty_or_too_long_statement_is_refused(app, noticed):
    with app.app_context():
        with pytest.raises(AppealError, match="statement: required"):
            _file(noticed, words="   ")
        with pytest.raises(AppealError, match="at most 2000 characters"):
            _file(noticed, words="x" * 2001)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffAppeal)) == 0


def test_the_appeal_window_is_the_rules_days_after_the_notice(app, noticed):
    with app.app_context():
        # RULE's default appeal_days: 15 calendar days after December 28 is January 12.
        with pytest.raises(AppealError, match="could be appealed until 2027-01-12"):
            _file(noticed, on=date(2027, 1, 13))
        assert _file(noticed, on=date(2027, 1, 12)).shutoff_notice_id is not None


def test_a_denial_moves_the_earliest_shutoff_to_the_rules_business_days_after_it(app, noticed):
    with app.app_context():
        load_shutoff_rule(db.session, CLERK, RULE | {"appeal_denial_lead_days": 5})
        appeal = _decide(_file(noticed), upheld=False, on=date(2027, 1, 5))
        # Five business days after Tuesday January 5, 2027: 6, 7, 8, 11, 12.
        held = _eligibility(noticed, date(2027, 1, 11))
        assert held.reasons == () and held.may_notice
        assert held.held == ("an appeal was denied on 2027-01-05; no shutoff before 2027-01-12",)
        assert held.shutoff_not_before == date(2027, 1, 12) and not held.may_shut_off
        assert _eligibility(noticed, date(2027, 1, 12)).may_shut_off
        assert appeal.decided_by == SUPERVISOR.label


def test_an_upheld_appeal_voids_the_notice_of_its_delinquency(app, noticed):
    with app.app_context():
        _decide(_file(noticed), upheld=True)
        found = _eligibility(noticed, SHUTOFF_FROM)
        assert found.reasons == (
            "an appeal was upheld on 2026-12-30: the shutoff notice for this past-due balance "
            "is void",
        )
        account = db.session.get(Account, noticed)
        with pytest.raises(ShutoffError, match="was upheld on 2026-12-30"):
            issue_shutoff_notice(db.session, app.config, CLERK, account, date(2027, 1, 4))


def test_a_decision_is_final_and_a_withdrawn_appeal_cannot_be_decided(app, noticed):
    with app.app_context():
        appeal = _decide(_file(noticed), upheld=False)
        with pytest.raises(AppealError, match="was already denied"):
            _decide(appeal, upheld=True)
        assert appeal.status == AppealStatus.DENIED
        with pytest.raises(AppealError, match="was denied on 2026-12-30"):
            _file(noticed, on=date(2026, 12, 31))


def test_withdrawing_resumes_the_process(app, noticed):
    with app.app_context():
        appeal = _file(noticed)
        withdraw_appeal(db.session, CLERK, appeal, at=AT, on=FILED)
        assert appeal.status == AppealStatus.WITHDRAWN
        assert _eligibility(noticed, SHUTOFF_FROM).may_shut_off
        with pytest.raises(AppealError, match="withdrawn, not pending"):
            withdraw_appeal(db.session, CLERK, appeal, at=AT, on=FILED)


def test_reasons_for_the_resident_are_required(app, noticed):
    with app.app_context():
        appeal = _file(noticed)
        with pytest.raises(AppealError, match="reasons for the resident: required"):
            decide_appeal(
                db.session, SUPERVISOR, appeal, upheld=False, resident_reasons=" ", at=AT, on=FILED
            )
        assert appeal.status == AppealStatus.PENDING


def test_a_phone_appeal_before_any_notice_names_the_delinquency(app):
    ids = _town(
        app, [("olson", "1 Oak St", False, Language.EN), ("nguyen", "1 Oak St", False, Language.EN)]
    )
    with app.app_context():
        appeal = _file(ids[0], channel=AppealChannel.PHONE)
        assert appeal.filed_by == "clerk" and appeal.shutoff_notice_id is None
        assert appeal.invoice_id == _eligibility(ids[0], DAY).delinquency_invoice_id
        # From the portal a resident contests a notice: without one there is nothing to contest.
        with pytest.raises(AppealError, match="has no open shutoff notice to contest") as error:
            _file(ids[1], channel=AppealChannel.PORTAL)
        assert error.value.code == "no_notice"


def test_every_step_is_audited(app, noticed):
    with app.app_context():
        appeal = _decide(_file(noticed), upheld=False)
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.action.like("shutoff_appeal.%"))
            .order_by(AuditEvent.id)
        ).all()
        assert actions == ["shutoff_appeal.file", "shutoff_appeal.decide"]
        decided = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "shutoff_appeal.decide")
        )
        assert decided.object_id == str(appeal.id) and decided.actor_label == SUPERVISOR.label
        assert decided.summary["decision"] == "denied"


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def _outbox(app) -> list[email.message.EmailMessage]:
    folder = Path(app.config["OUTBOX_DIR"])
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def test_the_decision_letter_has_the_residents_reasons_and_never_the_note(app, noticed, tmp_path):
    with app.app_context():
        account = db.session.get(Account, noticed)
        appeal = _decide(_file(noticed), upheld=False, on=date(2027, 1, 5))
        text = _pdftotext(decision_pdf(app.config, appeal, account, date(2027, 1, 12)), tmp_path)
        assert "Your appeal was denied on January 5, 2027" in text
        assert "may be shut off from January 12, 2027" in text
        assert "payment arrived after the notice" in text
        assert "lockbox" not in text and "Staff only" not in text
        mailer = Mailer.from_config(app.config)
        assert send_acknowledgement(app.config, mailer, appeal, account) == "emailed"
        assert send_decision(app.config, mailer, appeal, account, date(2027, 1, 12)) == "emailed"
        mails = _outbox(app)
        (ack,) = [m for m in mails if "received" in m["Subject"]]
        (decision,) = [m for m in mails if "decision" in m["Subject"]]
        assert ack["To"] == "olson@example.org"
        assert "we received your shutoff appeal" in ack["Subject"]
        body = decision.get_body(("plain",)).get_content()
        assert "payment arrived after the notice" in body and "lockbox" not in body
        attached = next(decision.iter_attachments()).get_content()
        assert "lockbox" not in _pdftotext(attached, tmp_path)


def test_the_decision_letter_is_in_the_residents_language(app, tmp_path):
    ids = _town(app, [("garcia", "1 Oak St", False, Language.ES)])
    with app.app_context():
        account = db.session.get(Account, ids[0])
        issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        appeal = _decide(_file(ids[0]), upheld=True)
        text = _pdftotext(decision_pdf(app.config, appeal, account, None), tmp_path)
        assert "Su apelación fue aceptada el 30 de diciembre de 2026" in text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"appeal_days": -1}, "appeal_days: must not be negative"),
        ({"appeal_denial_lead_days": "5"}, "appeal_denial_lead_days: must be a whole number"),
        ({"tenant_notice_days_multi_unit": 91}, "tenant_notice_days_multi_unit: must be at most"),
    ],
)
def test_bad_appeal_and_tenant_rule_values_are_refused_naming_the_place(change, reason):
    with pytest.raises(RuleError, match=reason):
        parse_shutoff_rule(RULE | change)


def test_the_cli_records_a_phone_appeal_and_a_supervisor_decides_it(app, runner, noticed):
    with app.app_context():
        number = db.session.get(Account, noticed).number
    with time_machine.travel(AT, tick=False):
        filed = runner.invoke(
            args=["shutoff", "appeal", "file", number, "--statement", "I was in hospital"]
        )
        assert filed.exit_code == 0, filed.output
        assert "pending" in filed.output and "acknowledgement: emailed" in filed.output
        again = runner.invoke(args=["shutoff", "appeal", "file", number, "--statement", "again"])
        assert again.exit_code != 0 and "has an appeal pending since 2026-12-29" in again.output
        listed = runner.invoke(args=["shutoff", "appeal", "list"])
        with app.app_context():
            appeal = db.session.scalar(sa.select(ShutoffAppeal))
            assert appeal.channel == AppealChannel.PHONE and appeal.filed_by == "clerk"
        assert listed.output.startswith(f"{appeal.id}\t")
        no_reasons = runner.invoke(
            args=["shutoff", "appeal", "decide", str(appeal.id), "--deny", "--reasons", " "]
        )
        assert (
            no_reasons.exit_code != 0 and "reasons for the resident: required" in no_reasons.output
        )
        denied = runner.invoke(
            args=[
                "shutoff",
                "appeal",
                "decide",
                str(appeal.id),
                "--deny",
                "--reasons",
                "Paid late",
                "--note",
                "internal only",
            ]
        )
        assert denied.exit_code == 0, denied.output
        assert "denied (letter: emailed)" in denied.output
        twice = runner.invoke(
            args=["shutoff", "appeal", "decide", str(appeal.id), "--uphold", "--reasons", "x"]
        )
        assert twice.exit_code != 0 and "was already denied" in twice.output
    (decision,) = [m for m in _outbox(app) if "decision" in m["Subject"]]
    letter = " ".join(decision.get_body(("plain",)).get_content().split())
    # Five business days after Tuesday December 29: 30, 31, January 4, 5, 6.
    assert "may be shut off from January 6, 2027" in letter
    assert "Paid late" in letter and "internal only" not in letter


def test_the_daily_job_leaves_an_account_with_a_pending_appeal_alone(app):
    ids = _town(app, [("olson", "1 Oak St", False, Language.EN)])
    with app.app_context():
        _file(ids[0], on=DAY, channel=AppealChannel.PHONE)
        db.session.commit()
        counts = send_shutoff_notices(db.session, JobContext(DAY, False, JOB, app.config))
        assert counts["excluded"] == 1 and counts["noticed"] == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ShutoffNotice)) == 0
