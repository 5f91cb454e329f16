"""Online access on the clerk's account page and in `munibill accounts`: a reissued access
code is shown once and printed on the next notice, unlinking a resident needs a reason, both
are audited, and an auditor can do neither."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from accounts.models import Account
from accounts.services import check_access_code
from core.extensions import db
from core.models import AuditEvent
from notices import content
from portal.models import EndedLink, LinkEndReason, PortalSession, Resident, ResidentAccount
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, sign_in
from tests.portal.conftest import quick_pay
from tests.portal.test_access_changes import NEW_CODE_RE, reissue


def _account(number: str) -> Account:
    return db.session.scalar(sa.select(Account).where(Account.number == number))


def _link(app, number: str, email: str) -> int:
    """A registered resident who linked the account; returns the resident's id."""
    with app.app_context():
        resident = Resident(email=email, password_hash="x", verified_at=None)
        db.session.add(resident)
        db.session.flush()
        db.session.add(ResidentAccount(resident_id=resident.id, account_id=_account(number).id))
        db.session.commit()
        return resident.id


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_a_reissue_is_audited_with_the_reason_and_what_it_ended(app, make_staff):
    (olson,) = bill_households(app, "olson")
    _link(app, olson.number, "ana@example.net")
    visitor = app.test_client()
    assert quick_pay(visitor, olson.number, olson.access_code).status_code == 303
    clerk = app.test_client()
    clerk_email = make_staff("clerk")
    sign_in(clerk, clerk_email)
    new_code = reissue(clerk, olson.number, reason="The house was sold in November")
    with app.app_context():
        (event,) = _events("account.access_code_reissued")
        assert event.actor_label == clerk_email and event.object_id == str(
            _account(olson.number).id
        )
        assert event.summary["reason"] == "The house was sold in November"
        assert event.summary["version"] == 2
        assert event.summary["sessions_ended"] == 1
        assert event.summary["residents_unlinked"] == ["ana@example.net"]
        assert new_code not in str(event.summary)  # the code itself is never kept
        (unlinked,) = _events("resident.unlink")
        assert unlinked.summary["resident"] == "ana@example.net"
        assert unlinked.summary["why"] == "code_changed"
    page = unescape(clerk.get(f"/staff/accounts/{olson.number}").text)
    assert "account.access_code_reissued" in page and "The house was sold in November" in page
    assert new_code not in page  # shown once, on the answer to the button only


def test_the_next_notice_prints_the_new_code(app, signed_in):
    (olson,) = bill_households(app, "olson")
    new_code = reissue(signed_in("supervisor"), olson.number)
    with app.app_context():
        account = _account(olson.number)
        assert content.access_code(app.config, account) == new_code
        assert check_access_code(account, new_code)
        assert not check_access_code(account, olson.access_code)


def test_a_reissue_needs_a_reason(app, signed_in):
    (olson,) = bill_households(app, "olson")
    clerk = signed_in("clerk")
    page = clerk.get(f"/staff/accounts/{olson.number}").text
    refused = clerk.post(
        f"/staff/accounts/{olson.number}/access-code",
        data={"csrf_token": csrf_token(page), "reason": " "},
    )
    assert refused.status_code == 303
    shown = unescape(clerk.get(refused.location).text)
    assert "The access code was not changed. reason: say why" in shown
    assert not NEW_CODE_RE.search(shown)
    with app.app_context():
        assert _account(olson.number).access_code_version == 1
        assert _events("account.access_code_reissued") == []


def test_an_auditor_sees_the_linked_residents_but_can_neither_reissue_nor_unlink(app, signed_in):
    (olson,) = bill_households(app, "olson")
    resident_id = _link(app, olson.number, "ana@example.net")
    auditor = signed_in("auditor")
    page = auditor.get(f"/staff/accounts/{olson.number}").text
    assert "ana@example.net" in page
    assert "Reissue the access code" not in page and "Unlink ana@example.net" not in page
    token = csrf_token(auditor.get("/staff/dashboard").text)
    data = {"csrf_token": token, "reason": "curious"}
    reissue_url = f"/staff/accounts/{olson.number}/access-code"
    unlink_url = f"/staff/accounts/{olson.number}/residents/{resident_id}/unlink"
    assert auditor.post(reissue_url, data=data).status_code == 403
    assert auditor.post(unlink_url, data=data).status_code == 403
    with app.app_context():
        assert _account(olson.number).access_code_version == 1
        assert db.session.scalar(sa.select(sa.func.count(ResidentAccount.id))) == 1


def test_the_cli_reissues_a_code_that_opens_quick_pay_while_the_old_one_does_not(app, runner):
    (olson,) = bill_households(app, "olson")
    _link(app, olson.number, "ana@example.net")
    visitor = app.test_client()
    assert quick_pay(visitor, olson.number, olson.access_code).status_code == 303
    result = runner.invoke(
        args=["accounts", "reissue-code", olson.number, "--reason", "Code posted online"]
    )
    assert result.exit_code == 0, result.output
    new_code = result.output.split("new access code ")[1].split()[0]
    assert "Quick-pay sessions ended: 1" in result.output
    assert "Residents no longer linked: ana@example.net" in result.output
    assert visitor.get("/my/bill").status_code == 302
    assert quick_pay(app.test_client(), olson.number, olson.access_code).status_code == 422
    assert quick_pay(app.test_client(), olson.number, new_code).status_code == 303
    with app.app_context():
        (event,) = _events("account.access_code_reissued")
        assert event.actor_label == "operator" and event.origin == "cli"
        assert event.summary["reason"] == "Code posted online"
        (ended,) = db.session.scalars(sa.select(EndedLink)).all()
        assert ended.reason == LinkEndReason.CODE_CHANGED and ended.told_at is None
        ended_why = sa.select(PortalSession.end_reason).where(PortalSession.resident_id.is_(None))
        assert db.session.scalar(ended_why) == "code_changed"


def test_the_cli_lists_and_unlinks_residents_with_a_reason(app, runner):
    (olson,) = bill_households(app, "olson")
    _link(app, olson.number, "ana@example.net")
    _link(app, olson.number, "luis@example.net")
    listed = runner.invoke(args=["accounts", "residents", olson.number])
    assert listed.exit_code == 0, listed.output
    assert "ana@example.net" in listed.output and "luis@example.net" in listed.output
    missing = runner.invoke(args=["accounts", "unlink", olson.number, "ana@example.net"])
    assert missing.exit_code != 0 and "--reason" in missing.output
    done = runner.invoke(
        args=["accounts", "unlink", olson.number, "ANA@example.net", "--reason", "Moved out"]
    )
    assert done.exit_code == 0, done.output
    assert f"ana@example.net is no longer linked to account {olson.number}." in done.output
    again = runner.invoke(
        args=["accounts", "unlink", olson.number, "ana@example.net", "--reason", "Moved out"]
    )
    assert again.exit_code != 0 and "has not linked account" in again.output
    unknown = runner.invoke(args=["accounts", "reissue-code", "99999999", "--reason", "x"])
    assert unknown.exit_code != 0 and "No account 99999999" in unknown.output
    with app.app_context():
        emails = db.session.scalars(
            sa.select(Resident.email).join(
                ResidentAccount, ResidentAccount.resident_id == Resident.id
            )
        ).all()
        assert emails == ["luis@example.net"]
        (event,) = _events("resident.unlink")
        assert event.summary["reason"] == "Moved out" and event.summary["why"] == "unlinked"
        assert event.summary["resident"] == "ana@example.net"
        (ended,) = db.session.scalars(sa.select(EndedLink)).all()
        assert ended.reason == LinkEndReason.UNLINKED
